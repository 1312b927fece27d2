"""A Data Package as one ZIP, streamed: generated chunk by chunk as the client reads it.

zipstream-ng writes each entry with a data descriptor, so nothing is built in memory
or on disk whatever the size of the files (ZIP64 past 4 GB); a stored file is read in
64 KiB blocks only when its turn comes. ``datapackage.json`` comes first, then the
files under ``data/``. Text formats are deflated; formats that are already compressed
(XLSX, PDF, images, archives) are stored as they are, which also keeps the CPU free.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from zipfile import ZIP_DEFLATED, ZIP_STORED

from zipstream import ZipStream

from opendata.interop.datapackage import Package

DESCRIPTOR_NAME = "datapackage.json"


def descriptor_bytes(package: Package) -> bytes:
    return json.dumps(package.descriptor, ensure_ascii=False, indent=2).encode("utf-8")


def zip_chunks(package: Package) -> Iterator[bytes]:
    """The archive's bytes, produced lazily. Raises FileNotFoundError (before any byte) if a stored file is gone."""
    archive = ZipStream(compress_type=ZIP_STORED)
    archive.add(descriptor_bytes(package), DESCRIPTOR_NAME, compress_type=ZIP_DEFLATED)
    for item in package.files:
        archive.add_path(str(item.path), item.arcname, recurse=False,
                         compress_type=ZIP_DEFLATED if item.compress else ZIP_STORED)
    return iter(archive)
