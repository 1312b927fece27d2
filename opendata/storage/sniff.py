"""What an uploaded file really is, judged by its content, and whether an archive is safe.

The name a publisher gives a file says little: an HTML page renamed ``data.csv``
would run its scripts in our origin if we served it as a page. So the format
comes from the first bytes (libmagic, plus checks of our own where libmagic is
vague: which ZIP is a workbook, which JSON is GeoJSON, which text is a table),
and the extension only breaks ties between text formats that both fit.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import magic

from opendata.storage import encoding

HEAD_BYTES = 256 * 1024
TABULAR_FORMATS = frozenset({"CSV", "TSV", "XLSX"})

MEDIA_TYPES = {
    "CSV": "text/csv",
    "TSV": "text/tab-separated-values",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "XLS": "application/vnd.ms-excel",
    "JSON": "application/json",
    "GeoJSON": "application/geo+json",
    "XML": "application/xml",
    "PDF": "application/pdf",
    "DOCX": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "ODS": "application/vnd.oasis.opendocument.spreadsheet",
    "ZIP": "application/zip",
    "SHP": "application/x-esri-shape",
    "KML": "application/vnd.google-earth.kml+xml",
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "TXT": "text/plain",
    "HTML": "text/html",
    "SVG": "image/svg+xml",
}
ACTIVE_FORMATS = frozenset({"HTML", "SVG", "XML", "KML"})
OCTET_STREAM = "application/octet-stream"

# libmagic types a browser would run or render as a document.
_ACTIVE_MIME = re.compile(r"html|xml|javascript|ecmascript|svg", re.IGNORECASE)


@dataclass(frozen=True)
class Sniffed:
    """The portal's name for a file's format (None when unknown), the media type to
    serve it with, ``active`` when a browser would execute or render it (serve it only
    as an attachment) and ``tabular`` when the privacy scanner must read it."""

    format: str | None
    media_type: str
    active: bool
    tabular: bool


def _known(fmt: str, media_type: str | None = None) -> Sniffed:
    return Sniffed(
        format=fmt,
        media_type=media_type or MEDIA_TYPES[fmt],
        active=fmt in ACTIVE_FORMATS,
        tabular=fmt in TABULAR_FORMATS,
    )


def _unknown(mime: str) -> Sniffed:
    """Unrecognised content is served as bytes; libmagic still says whether it is active."""
    return Sniffed(None, OCTET_STREAM, bool(_ACTIVE_MIME.search(mime)), False)


def sniff(path: Path, filename: str) -> Sniffed:
    """Say what ``path`` contains, reading its first 256 KB (and a ZIP's directory).

    ``filename`` is the publisher's name for it: its extension only decides
    between text formats that the content fits equally (``.txt`` or ``.csv``).
    """
    with path.open("rb") as stream:
        head = stream.read(HEAD_BYTES)
        truncated = bool(stream.read(1))
    if not head:
        return _unknown("")
    mime = _libmagic(head)
    extension = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    return (
        _sniff_binary(path, head, mime)
        or _sniff_text(head, truncated, mime, extension)
        or _unknown(mime)
    )


def _libmagic(head: bytes) -> str:
    try:
        return magic.from_buffer(head, mime=True)
    except magic.MagicException:
        return OCTET_STREAM


# --------------------------------------------------------------------------
# Binary formats
# --------------------------------------------------------------------------

_SIGNATURES = (
    (b"%PDF-", "PDF"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SHP_MAGIC = b"\x00\x00\x27\x0a"  # file code 9994, big-endian


def _sniff_binary(path: Path, head: bytes, mime: str) -> Sniffed | None:
    for signature, fmt in _SIGNATURES:
        if head.startswith(signature):
            return _known(fmt)
    if head.startswith(_ZIP_MAGIC):
        return _sniff_zip(path)
    if head.startswith(_OLE2_MAGIC):
        return _sniff_ole2(head, mime)
    if head.startswith(_SHP_MAGIC) and len(head) >= 100:
        return _known("SHP")
    return None


def _sniff_zip(path: Path) -> Sniffed:
    """A ZIP is a workbook or a document only if its entries say so."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            odf_type = _odf_mimetype(archive, names)
    except (zipfile.BadZipFile, OSError, EOFError):
        return _known("ZIP")  # check_archive rejects it with a message
    if "xl/workbook.xml" in names:
        return _known("XLSX")
    if "word/document.xml" in names:
        return _known("DOCX")
    if odf_type == MEDIA_TYPES["ODS"]:
        return _known("ODS")
    if any(name.lower().endswith(".shp") for name in names):
        return _known("SHP", MEDIA_TYPES["ZIP"])  # a zipped shapefile travels as a ZIP
    return _known("ZIP")


def _odf_mimetype(archive: zipfile.ZipFile, names: set[str]) -> str | None:
    if "mimetype" not in names:
        return None
    with archive.open("mimetype") as entry:
        return entry.read(100).decode("ascii", errors="replace").strip()


def _sniff_ole2(head: bytes, mime: str) -> Sniffed:
    """Old Office files share one container; an Excel one has a Workbook (or Book) stream."""
    streams = ("Workbook".encode("utf-16-le"), "Book\x00".encode("utf-16-le"))
    if mime == MEDIA_TYPES["XLS"] or any(name in head for name in streams):
        return _known("XLS")
    return _unknown(mime)


# --------------------------------------------------------------------------
# Text formats
# --------------------------------------------------------------------------

# The tags that make a browser sniff a document as HTML (WHATWG MIME Sniffing, 7.1).
_HTML_START = re.compile(
    r"<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[\s>/]",
    re.IGNORECASE,
)
_XML_DECL = re.compile(r"<\?xml[^>]*\?>", re.IGNORECASE)
_XML_PROLOGUE = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)", re.DOTALL)
_XML_ROOT = re.compile(r"\s*<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_JSON_START = re.compile(r"[\[{]\s*(?:[\"{\[\]}]|-?\d|true|false|null)")
_GEOJSON_TYPE = re.compile(r'"type"\s*:\s*"(?:FeatureCollection|Feature)"')
_JAVASCRIPT_MIME = ("application/javascript", "text/javascript", "application/x-javascript")
_DELIMITERS = ("\t", ";", ",")  # in order of preference when two fit equally
_SNIFF_LINES = 50


def _sniff_text(head: bytes, truncated: bool, mime: str, extension: str) -> Sniffed | None:
    detected = encoding.detect(head)
    if b"\x00" in head and not detected.codec.startswith(("utf-16", "utf-32")):
        return None  # binary
    text = encoding.decode(head, detected.codec).lstrip("\ufeff")
    stripped = text.lstrip()
    return (
        _sniff_markup(stripped, mime)
        or _sniff_json(stripped, truncated, mime)
        or _sniff_table(text, truncated, extension)
        or _known("TXT")
    )


def _sniff_markup(text: str, mime: str) -> Sniffed | None:
    """HTML, SVG, KML, other XML and JavaScript: everything a browser would run."""
    if mime in ("text/html", "application/xhtml+xml"):
        return _known("HTML")
    root = _xml_root(text) if text.startswith("<") else None
    if root in ("svg", "kml"):
        return _known(root.upper())  # before HTML: an SVG may open with a comment
    if _HTML_START.match(text) or root == "html":
        return _known("HTML")
    if root is not None or _XML_DECL.match(text):
        return _known("XML")
    if mime == "image/svg+xml":
        return _known("SVG")
    if mime in _JAVASCRIPT_MIME:
        return Sniffed(None, "text/javascript", True, False)
    return None


def _xml_root(text: str) -> str | None:
    """The root element's local name, past the declaration, comments and doctype."""
    position = 0
    while (match := _XML_PROLOGUE.match(text, position)) and match.end() > position:
        position = match.end()
    root = _XML_ROOT.match(text, position)
    return root.group(2).lower() if root else None


def _sniff_json(text: str, truncated: bool, mime: str) -> Sniffed | None:
    if not text.startswith(("{", "[")):
        return None
    if truncated:
        # Too big to parse from the head: trust the shape of its start.
        if mime != "application/json" and not _JSON_START.match(text):
            return None
        return _known("GeoJSON" if _GEOJSON_TYPE.search(text) else "JSON")
    try:
        value = json.loads(text)
    except ValueError:
        return None
    is_geo = isinstance(value, dict) and value.get("type") in ("FeatureCollection", "Feature")
    return _known("GeoJSON" if is_geo else "JSON")


def guess_delimiter(lines: list[str]) -> str | None:
    """The delimiter (tab, ``;`` or ``,``) that splits these lines into the same
    number of columns, two at least; None when none does.

    Semicolons are common in Vietnam, where Excel uses the decimal comma. When two
    delimiters fit, the one giving more columns wins, then tab, ``;``, ``,``.
    """
    lines = [line for line in lines if line.strip()]
    if len(lines) < 2:
        return None
    best: tuple[int, int, str] | None = None
    for rank, delimiter in enumerate(_DELIMITERS):
        columns = _consistent_columns(lines, delimiter)
        if columns >= 2 and (best is None or (columns, -rank) > best[:2]):
            best = (columns, -rank, delimiter)
    return best[2] if best else None


def _consistent_columns(lines: list[str], delimiter: str) -> int:
    """The column count that at least 90% of the rows share, or 0."""
    try:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter) if row]
    except csv.Error:
        return 0
    if len(counts) < 2:
        return 0
    common = max(set(counts), key=counts.count)
    return common if counts.count(common) >= 0.9 * len(counts) else 0


def _sniff_table(text: str, truncated: bool, extension: str) -> Sniffed | None:
    lines = text.splitlines(keepends=True)
    if truncated and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    delimiter = guess_delimiter(lines[:_SNIFF_LINES])
    if delimiter is None or extension == ".txt":
        return None  # TXT: a table named .txt fits both, and the name decides
    # Tab-separated text named .csv is what Excel's "Unicode text" export is often saved as.
    if delimiter == "\t" and extension != ".csv":
        return _known("TSV")
    return _known("CSV")


# --------------------------------------------------------------------------
# Archives
# --------------------------------------------------------------------------


class UnsafeArchive(Exception):
    """An archive we refuse to store or unpack; ``message`` is for the publisher."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_RATIO_FLOOR = 1024 * 1024  # small entries compress as they like
_NESTED_SUFFIXES = (".zip", ".kmz", ".xlsx", ".docx", ".ods", ".jar")
_NESTED_MAX = 100 * 1024 * 1024  # a nested archive larger than this is not opened


@dataclass
class _Budget:
    """What the entries have declared so far, against the limits."""

    max_total: int
    max_ratio: int
    max_entries: int
    total: int = 0
    entries: int = 0


def check_archive(
    path: Path,
    *,
    max_total: int = 10 * 1024**3,
    max_ratio: int = 200,
    max_entries: int = 10_000,
) -> None:
    """Raise UnsafeArchive for a ZIP bomb, a path-traversal entry or a corrupt ZIP.

    Reads only the directory (and nested archives' directories), never unpacks
    the data: the declared sizes are what an unpacker would trust. Files that
    are not ZIPs pass; XLSX, DOCX and ODS are ZIPs and are checked too.
    """
    with path.open("rb") as stream:
        if stream.read(4) not in (*_ZIP_MAGIC, b"PK\x07\x08"):  # local file, empty, spanned
            return
    budget = _Budget(max_total, max_ratio, max_entries)
    try:
        with zipfile.ZipFile(path) as archive:
            _check_entries(archive, budget, nested=True)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise UnsafeArchive("Tệp nén bị hỏng hoặc không đúng định dạng ZIP, không thể mở.") from exc


def _check_entries(archive: zipfile.ZipFile, budget: _Budget, *, nested: bool) -> None:
    for info in archive.infolist():
        budget.entries += 1
        if budget.entries > budget.max_entries:
            limit = f"{budget.max_entries:,}".replace(",", ".")  # Vietnamese digit grouping
            raise UnsafeArchive(f"Tệp nén có quá nhiều tệp bên trong (hơn {limit}).")
        _check_name(info)
        budget.total += info.file_size
        if budget.total > budget.max_total:
            raise UnsafeArchive("Tổng dung lượng sau khi giải nén vượt quá giới hạn cho phép.")
        _check_ratio(info.file_size, info.compress_size, budget.max_ratio, info.filename)
        if nested and info.filename.lower().endswith(_NESTED_SUFFIXES):
            _check_nested(archive, info, budget)


def _check_name(info: zipfile.ZipInfo) -> None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in name.split("/"):
        raise UnsafeArchive(f"Tệp nén chứa đường dẫn không an toàn: «{info.filename}».")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UnsafeArchive(f"Tệp nén chứa liên kết tượng trưng: «{info.filename}».")


def _check_ratio(size: int, compressed: int, max_ratio: int, name: str) -> None:
    if size > _RATIO_FLOOR and size > max_ratio * max(compressed, 1):
        raise UnsafeArchive(f"Tệp «{name}» trong tệp nén có tỷ lệ nén bất thường (nghi là bom nén).")


def _check_nested(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget) -> None:
    """One level down: a small ZIP that declares a huge content is the classic bomb."""
    if info.file_size > _NESTED_MAX:
        return
    before = budget.total
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as copy:
        try:
            with archive.open(info) as entry:
                shutil.copyfileobj(entry, copy)
            copy.seek(0)
            if not copy.read(4).startswith(_ZIP_MAGIC):
                return
            copy.seek(0)
            with zipfile.ZipFile(copy) as inner:
                _check_entries(inner, budget, nested=False)
        except (RuntimeError, NotImplementedError):
            return  # encrypted or an unusual method: nothing can unpack it unasked
        except (zipfile.BadZipFile, EOFError) as exc:
            raise UnsafeArchive(f"Tệp nén lồng bên trong «{info.filename}» bị hỏng.") from exc
    _check_ratio(budget.total - before, info.compress_size, budget.max_ratio, info.filename)
