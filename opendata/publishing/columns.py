"""The column names of a tabular resource, for its data dictionary form."""

from __future__ import annotations

import csv
from itertools import islice

import openpyxl

from opendata.catalog.models import Resource
from opendata.storage.files import file_store
from opendata.privacy.gate import content_format, is_tabular
from opendata.storage.encoding import detect, open_text
from opendata.storage.sniff import guess_delimiter

HEAD_LINES = 50


def _first_row(rows) -> list[str]:
    for row in rows:
        cells = ["" if cell is None else str(cell).strip() for cell in row]
        if any(cells):
            return cells
    return []


def _header(path, fmt: str, codec: str | None) -> list[str]:
    if fmt == "XLSX":
        with path.open("rb") as stream:
            workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                return _first_row(sheet.iter_rows(max_row=10, values_only=True))
            finally:
                workbook.close()
    if codec is None:
        with path.open("rb") as stream:
            codec = detect(stream.read(64 * 1024)).codec
    with open_text(path, codec) as lines:
        head = list(islice(lines, HEAD_LINES))
    delimiter = guess_delimiter(head) or ("\t" if fmt == "TSV" else ",")
    return _first_row(csv.reader(head, delimiter=delimiter))


def columns_of(resource: Resource) -> list[str]:
    """The file's columns (from its header), or the dictionary's when the file cannot be read.

    After a replacement the header wins, so new columns can be described; what was written
    about columns that remain is kept by name (``described_fields``).
    """
    described = [field["name"] for field in (resource.schema or {}).get("fields", [])]
    if not (is_tabular(resource) and resource.is_upload):
        return described
    try:
        header = _header(file_store().path(resource.storage_key), content_format(resource), resource.encoding)
    except Exception:  # noqa: BLE001 - an unreadable file keeps the dictionary it has
        return described
    # Blank or repeated headers get a positional name, as a Table Schema needs unique names.
    names, seen = [], set()
    for index, name in enumerate(header, start=1):
        name = name or f"Cột {index}"
        while name in seen:
            name = f"{name} ({index})"
        seen.add(name)
        names.append(name)
    return names or described


def described_fields(resource: Resource) -> dict[str, dict]:
    """What the dictionary says of each column, by name."""
    return {field["name"]: field for field in (resource.schema or {}).get("fields", [])}
