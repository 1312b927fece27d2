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

from flask import current_app

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


class Receiving:
    """A file being received, written to an anonymous temporary file in the store.

    On Linux the file is opened with ``O_TMPFILE``: it has no name until ``FileStore``
    links it into place, so a worker killed mid-upload leaves nothing on disk. The
    SHA-256 and size are computed as the bytes arrive, and the size limit is enforced
    as they do. Werkzeug writes multipart file parts straight into one of these
    (``storage.requests``), so an upload is copied once, not spooled and copied again.
    """

    def __init__(self, root: str | Path, *, max_size: int | None = None):
        tmp_dir = Path(root) / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.max_size = max_size
        self.size = 0
        self._digest = hashlib.sha256()
        self._named: Path | None = None
        try:
            fd = os.open(tmp_dir, os.O_TMPFILE | os.O_RDWR, 0o640)
        except (AttributeError, OSError):  # no O_TMPFILE (not Linux, or the file system lacks it)
            fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
            self._named = Path(name)
        self._file = os.fdopen(fd, "w+b")

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.max_size is not None and self.size > self.max_size:
            raise FileTooLarge(self.size)
        self._digest.update(data)
        return self._file.write(data)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._file.closed

    @property
    def reading_path(self) -> Path:
        """A path to read the received bytes by while the file has no name of its own yet."""
        self._file.flush()
        return self._named or Path(f"/proc/self/fd/{self._file.fileno()}")

    def link_to(self, final: Path) -> None:
        """Give the complete file its final name (durably), then let go of the temporary one."""
        self._file.flush()
        os.fsync(self._file.fileno())
        final.parent.mkdir(parents=True, exist_ok=True)
        if self._named is not None:
            os.replace(self._named, final)
            self._named = None
        else:
            # linkat(2) with AT_SYMLINK_FOLLOW names the anonymous file; Python only
            # uses linkat (rather than link, which would not follow) when a dir fd is given.
            folder = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.link(f"/proc/self/fd/{self._file.fileno()}", final.name, src_dir_fd=folder,
                        dst_dir_fd=folder, follow_symlinks=True)
            finally:
                os.close(folder)
        self._file.close()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        if self._named is not None:
            self._named.unlink(missing_ok=True)
            self._named = None

    def __enter__(self) -> Receiving:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class FileStore:
    """Files under one root folder, addressed by opaque keys like ``ab/cd/<uuid>``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the store: {key!r}")
        return path

    def receiving(self, *, max_size: int | None = None) -> Receiving:
        return Receiving(self.root, max_size=max_size)

    def receive(self, stream: BinaryIO | Receiving, *, max_size: int | None = None) -> Receiving:
        """The complete bytes of ``stream``, received chunk by chunk (never whole in memory), not yet kept.

        A ``Receiving`` file that already holds the bytes (a multipart upload) is used as it is.
        """
        if isinstance(stream, Receiving):
            if max_size is not None and stream.size > max_size:
                stream.close()
                raise FileTooLarge(stream.size)
            return stream
        received = self.receiving(max_size=max_size)
        try:
            while chunk := stream.read(CHUNK):
                received.write(chunk)
        except BaseException:
            received.close()
            raise
        return received

    def save(self, stream: BinaryIO | Receiving, *, max_size: int | None = None) -> StoredFile:
        """Receive ``stream`` and keep it: its key, size and SHA-256."""
        return self.keep(self.receive(stream, max_size=max_size))

    def keep(self, received: Receiving) -> StoredFile:
        """Give a received file its place in the store (a link: no copy)."""
        key_id = uuid.uuid4().hex
        key = f"{key_id[:2]}/{key_id[2:4]}/{key_id}"
        try:
            received.link_to(self.root / key)
        finally:
            received.close()
        return StoredFile(key=key, size=received.size, sha256=received.sha256)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()


def file_store() -> FileStore:
    """The application's file store (``STORAGE_PATH``)."""
    return FileStore(current_app.config["STORAGE_PATH"])
