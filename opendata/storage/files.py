"""Local file store: uploads are streamed to a temporary file, checksummed on the fly,
and moved into place atomically; the caller commits the row that points at them only
after ``save`` returns.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from opendata.text import nfc

CHUNK = 1024 * 1024
_RESERVED = re.compile(r'[<>:"/\\|?*]')


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


class FileTooLarge(Exception):
    pass


def safe_filename(name: str, default: str = "tep-du-lieu") -> str:
    """The display name of an upload: no folders, no control or reserved characters.

    Vietnamese letters are kept (NFC), since downloads send them back through
    RFC 6266's ``filename*``: `../Báo cáo "2025".csv` -> `Báo cáo 2025.csv`.
    """
    base = nfc(name.replace("\\", "/")).rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _RESERVED.sub("", base)
    base = " ".join(base.split()).strip(" .")
    if not base:
        return default
    stem, dot, ext = base.rpartition(".")
    if dot and len(ext) <= 10 and len(base) > 150:
        return f"{stem[:140]}.{ext}"
    return base[:150]


class FileStore:
    """Files under one root folder, addressed by opaque keys like ``ab/cd/<uuid>``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the store: {key!r}")
        return path

    def save(self, stream: BinaryIO, *, max_size: int | None = None) -> StoredFile:
        """Copy ``stream`` into the store chunk by chunk; never holds the file in memory."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise FileTooLarge(size)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            key_id = uuid.uuid4().hex
            key = f"{key_id[:2]}/{key_id[2:4]}/{key_id}"
            final = self.root / key
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredFile(key=key, size=size, sha256=digest.hexdigest())

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()
