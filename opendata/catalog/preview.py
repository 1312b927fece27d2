"""Previews on a resource's page: a table, a chart, a map, a PDF, an image or the start of a text file.

``preview_kind`` says which one a resource gets; ``resource_preview`` (a template
global, used by ``catalog/_preview.html``) gathers what the page needs for it,
and only for a visitor who may download the file: a file that the personal-data
gate holds back is not previewed either. The table, the chart and the map are
drawn in the browser (``static/js/preview.js``: the row API, Chart.js, Leaflet);
the text is read here, its first 64 KB decoded with the codec detected on upload.

A browser shows a PDF or an image only if it is not served as an attachment, so
``resource_inline`` serves those two kinds, and nothing else, inline: through the
download's permission checks, sandboxed, and never sniffed into something else.
It lives on the catalogue's blueprint (``catalog/views.py`` imports this module).
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, url_for

from opendata import authz
from opendata.authz import Action
from opendata.catalog import resources, services
from opendata.catalog.models import Dataset, Resource
from opendata.catalog.views import bp
from opendata.errors import NotFound
from opendata.storage import encoding  # noqa: F401  (registers the TCVN3 codec that ``resource.encoding`` may name)
from opendata.storage.downloads import send_stored_file
from opendata.text import fold
from opendata.web import current_actor

TEXT_PREVIEW_BYTES = 64 * 1024
# A browser parses a whole GeoJSON file before it draws anything; past this, the page offers the download.
MAP_MAX_BYTES = 20 * 1024**2
# Served inline: what a browser shows by itself and cannot run (never SVG, HTML or XML).
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
INLINE_TYPES = IMAGE_TYPES | {"application/pdf"}
TEXT_FORMATS = frozenset({"TXT", "CSV", "TSV", "JSON"})
CHART_TYPES = ("bar", "line", "pie")
# Number columns that label rows rather than measure them: years, row numbers (STT), codes.
_NOT_A_MEASURE = re.compile(r"\b(nam|year|stt|tt|so thu tu|ma|ma so|id|code)\b")
NUMERIC_TYPES = frozenset({"int", "numeric"})
# A column's row-API type, for tables whose fields carry only the Table Schema type.
_CKAN_TYPES = {"integer": "int", "number": "numeric", "date": "date", "datetime": "timestamp",
               "boolean": "bool", "year": "int"}


def preview_kind(resource: Resource, table: Any = None) -> str | None:
    """Which preview a resource gets: "table", "map", "pdf", "image", "text", or None.

    ``table`` is the resource's datastore table (``datastore.service.table_of``), if
    it has one: its rows are the preview once they are loaded, and until then there
    is none (the page shows the load's progress instead).
    """
    if table is not None and (table.ready or table.busy):
        return "table" if table.ready else None
    # A file that could not be read as a table (a JSON object, say) is still shown as text.
    if not resource.is_upload:
        return None
    fmt = (resource.format or "").upper()
    if fmt == "GEOJSON":
        return "map"
    if resource.media_type == "application/pdf":
        return "pdf"
    if resource.media_type in IMAGE_TYPES:
        return "image"
    if fmt in TEXT_FORMATS:
        return "text"
    return None


def text_preview(resource: Resource) -> tuple[str, bool]:
    """The first 64 KB of an uploaded text file, decoded to NFC, and whether the file goes on.

    A cut file ends at its last whole line, so no character or line is shown half.
    Undecodable bytes show as U+FFFD, as in ``encoding.decode``.
    """
    with resources.resource_path(resource).open("rb") as handle:
        head = handle.read(TEXT_PREVIEW_BYTES + 1)
    truncated = len(head) > TEXT_PREVIEW_BYTES
    head = head[:TEXT_PREVIEW_BYTES]
    try:
        decoder = codecs.getincrementaldecoder(resource.encoding or "utf-8")(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    # final=False: bytes of a character cut at 64 KB wait for the rest rather than turn into U+FFFD.
    text = decoder.decode(head, final=not truncated)
    if truncated and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return unicodedata.normalize("NFC", text), truncated


@dataclass(frozen=True)
class Column:
    """A column of a datastore table as the row API names and types it."""

    id: str
    type: str

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES


@dataclass(frozen=True)
class Chart:
    """The chart drawn first: the publisher's choice (``resource.extras["chart"]``) where it still fits."""

    type: str
    x: str
    y: str


@dataclass(frozen=True)
class TablePreview:
    rows_url: str
    columns: list[Column]
    chart: Chart | None
    conversions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def numeric_columns(self) -> list[Column]:
        return [column for column in self.columns if column.numeric]


@dataclass(frozen=True)
class Preview:
    """What ``catalog/_preview.html`` shows for one resource."""

    kind: str
    file_url: str | None = None  # the file itself: inline for a PDF or an image, the download for a map
    table: TablePreview | None = None
    text: str | None = None
    truncated: bool = False
    wrap: bool = False  # prose wraps; tables and JSON keep their lines and scroll sideways
    too_large: bool = False
    tile_url: str = ""
    tile_attribution: str = ""


def table_columns(table: Any) -> list[Column]:
    """The table's columns with their row-API types (``int``, ``numeric``, ``text``, ``date``...)."""
    columns = []
    for item in table.fields or []:
        kind = item.get("ckan_type") or _CKAN_TYPES.get(item.get("type") or "", "text")
        columns.append(Column(str(item["id"]), kind))
    return columns


def chart_choice(resource: Resource, columns: list[Column]) -> Chart | None:
    """The publisher's chart if its columns still exist, else the first label and the first number column.

    No chart without a numeric column to draw.
    """
    numeric = [column.id for column in columns if column.numeric]
    if not numeric:
        return None
    names = [column.id for column in columns]
    labels = [column.id for column in columns if column.type in ("text", "date", "timestamp")]
    wanted = (resource.extras or {}).get("chart")
    wanted = wanted if isinstance(wanted, dict) else {}
    kind = wanted.get("type") if wanted.get("type") in CHART_TYPES else "bar"
    x = wanted.get("x") if wanted.get("x") in names else (labels or names)[0]
    if wanted.get("y") in numeric:
        y = wanted["y"]
    else:  # a count or an amount, rather than a year or a row number
        candidates = [name for name in numeric if name != x] or numeric
        y = next((name for name in candidates if not _NOT_A_MEASURE.search(fold(name))), candidates[0])
    return Chart(kind, x, y)


def _conversions(dataset: Dataset, resource: Resource) -> list[tuple[str, str]]:
    """Links to the table as CSV, JSON and XLSX."""
    return [(label, url_for("catalog.resource_data", name=dataset.name, resource_id=resource.id, fmt=fmt))
            for fmt, label in (("csv", "CSV"), ("json", "JSON"), ("xlsx", "XLSX"))]


def _table_preview(dataset: Dataset, resource: Resource, table: Any) -> TablePreview:
    columns = table_columns(table)
    return TablePreview(
        rows_url=url_for("rest.rows.resource_rows", resource_id=resource.id),
        columns=columns, chart=chart_choice(resource, columns), conversions=_conversions(dataset, resource),
    )


def _text(resource: Resource) -> tuple[str, bool]:
    text, truncated = text_preview(resource)
    if (resource.format or "").upper() == "JSON" and not truncated:
        try:  # a whole JSON file reads better indented than on one long line
            text = json.dumps(json.loads(text), ensure_ascii=False, indent=2)
        except ValueError:
            pass
    return text, truncated


@bp.app_template_global()
def resource_preview(dataset: Dataset, resource: Resource, table: Any = None) -> Preview | None:
    """The preview of ``resource`` for the current visitor, or None when there is none to show."""
    kind = preview_kind(resource, table)
    if kind is None or not authz.can(current_actor(), Action.RESOURCE_DOWNLOAD, resource):
        return None
    if kind == "table":
        return Preview(kind, table=_table_preview(dataset, resource, table))
    if kind == "text":
        text, truncated = _text(resource)
        return Preview(kind, text=text, truncated=truncated, wrap=(resource.format or "").upper() == "TXT")
    if kind == "map":
        config = current_app.config
        return Preview(kind, too_large=(resource.size or 0) > MAP_MAX_BYTES,
                       file_url=url_for("catalog.resource_download", name=dataset.name, resource_id=resource.id,
                                        filename=resource.filename),
                       tile_url=config["MAP_TILE_URL"] or "", tile_attribution=config["MAP_TILE_ATTRIBUTION"] or "")
    return Preview(kind, file_url=url_for("catalog.resource_inline", name=dataset.name, resource_id=resource.id,
                                          filename=resource.filename))


@bp.get("/dataset/<name>/resource/<resource_id>/inline/<path:filename>")
def resource_inline(name: str, resource_id: str, filename: str):
    """A PDF or an image shown in the page; any other file is not found here (the download serves it)."""
    actor = current_actor()
    dataset = services.get_dataset(actor, name)
    resource = resources.get_resource(dataset, resource_id)
    resources.require_download(actor, resource)
    if not resource.is_upload or resource.media_type not in INLINE_TYPES:
        raise NotFound("Tệp này không xem trực tiếp được trên trang; hãy tải về.")
    response = send_stored_file(
        resources.resource_path(resource), download_name=resource.filename or filename,
        media_type=resource.media_type, sha256=resource.sha256, modified=resource.updated_at,
        public=resources.publicly_downloadable(resource),
    )
    # Werkzeug writes `attachment; filename=...`: the same header with the other disposition.
    disposition = response.headers["Content-Disposition"]
    response.headers["Content-Disposition"] = "inline" + disposition.removeprefix("attachment")
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
