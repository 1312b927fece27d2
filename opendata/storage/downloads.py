"""Downloads of stored files: streamed, with ranges, validators and RFC 6266 names.

Werkzeug's ``send_file`` does the HTTP work (Range and 206/416, If-None-Match and
If-Modified-Since and 304, HEAD, ``filename*``) and hands the open file to the
server's ``wsgi.file_wrapper`` (sendfile), so memory stays flat whatever the size.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from flask import Response, send_file

# Types a browser could run or render inline with the portal's origin.
ACTIVE_TYPES = {"text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml",
                "application/javascript", "text/javascript"}


def send_stored_file(path: Path, *, download_name: str, media_type: str | None, sha256: str | None,
                     modified: datetime | None, public: bool, charset: str | None = None) -> Response:
    """Stream ``path`` as an attachment; ``public`` lets shared caches keep it (published data only).

    ``charset`` is the text's real encoding (a Windows-1258 CSV is not UTF-8); without one,
    no charset is claimed for text, rather than a wrong one.
    """
    mimetype = media_type or "application/octet-stream"
    if mimetype in ACTIVE_TYPES:
        mimetype = "application/octet-stream"
    response = send_file(
        path,
        mimetype=mimetype,
        as_attachment=True,
        download_name=download_name,
        conditional=True,
        etag=sha256 or True,
        last_modified=modified.replace(tzinfo=timezone.utc) if modified else None,
        max_age=3600,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if mimetype.startswith("text/"):
        response.headers["Content-Type"] = f"{mimetype}; charset={charset}" if charset else mimetype
    if not public:
        response.cache_control.public = False
        response.cache_control.private = True
    return response


def is_first_byte_served(response: Response) -> bool:
    """True for a full download or a range starting at byte 0: what counts as one download."""
    if response.status_code == 200:
        return True
    if response.status_code == 206:
        content_range = response.headers.get("Content-Range", "")
        return content_range.startswith("bytes 0-")
    return False


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` that saves the answer as ``filename``: an ASCII name for old clients,
    and the real one in RFC 6266's ``filename*``, so Vietnamese names survive."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "").replace("\\", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
