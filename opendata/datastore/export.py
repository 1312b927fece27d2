"""A query's rows as JSON, CSV or XLSX, written as they are fetched, and the download answers made of them.

JSON and CSV are generators of encoded chunks: the response starts with the first
rows and memory holds one chunk, whatever the size of the result. XLSX is a ZIP
whose directory comes last, so openpyxl's write-only mode writes it to a temporary
file (rows are not kept in memory) that is then sent and deleted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from flask import Response, send_file
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from opendata.datastore.query import RowResult
from opendata.storage.downloads import attachment

CHUNK_ROWS = 500
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet, less the header row: the rest is left out (CSV has it all)
_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")  # characters Excel refuses in a sheet's name


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_chunks(result: RowResult, head: Mapping[str, Any], tail: Callable[[RowResult], Mapping[str, Any]]
                ) -> Iterator[bytes]:
    """``{…head, "records": [...], …tail}``; ``tail`` is asked after the rows (it knows the next cursor)."""
    opening = _dumps(dict(head))[:-1]
    yield (opening + ("," if head else "") + '"records":[').encode()
    buffer: list[str] = []
    first = True
    for record in result.records():
        buffer.append(("" if first else ",") + _dumps(record))
        first = False
        if len(buffer) >= CHUNK_ROWS:
            yield "".join(buffer).encode()
            buffer.clear()
    closing = _dumps(dict(tail(result)))[1:]
    yield ("".join(buffer) + "]" + ("," + closing if closing != "}" else "}")).encode()


def json_array_chunks(result: RowResult) -> Iterator[bytes]:
    """The rows as a plain JSON array of objects keyed by column (the ``.json`` conversion)."""
    yield b"["
    buffer: list[str] = []
    first = True
    for record in result.records():
        record.pop("_id", None)
        buffer.append(("" if first else ",\n") + _dumps(record))
        first = False
        if len(buffer) >= CHUNK_ROWS:
            yield "".join(buffer).encode()
            buffer.clear()
    yield ("".join(buffer) + "]\n").encode()


def csv_chunks(result: RowResult, *, bom: bool = False, delimiter: str = ",") -> Iterator[bytes]:
    """UTF-8 CSV with the column ids as header; ``bom`` for Excel, which otherwise guesses the encoding wrong."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([field["id"] for field in result.fields])
    prefix = "\ufeff" if bom else ""
    count = 0
    for values in result.rows():
        writer.writerow(["" if value is None else _csv_value(value) for value in values])
        count += 1
        if count % CHUNK_ROWS == 0:
            yield (prefix + text.getvalue()).encode()
            prefix = ""
            text.seek(0)
            text.truncate()
    yield (prefix + text.getvalue()).encode()


def _csv_value(value: Any) -> Any:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value


_EXCEL_TYPES: dict[str, Callable[[Any], Any]] = {
    "date": lambda value: date.fromisoformat(value) if isinstance(value, str) else value,
    "timestamp": lambda value: _naive(datetime.fromisoformat(value)) if isinstance(value, str) else value,
}


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo else value  # Excel has no time zones


def xlsx_file(result: RowResult, directory: str | None = None, sheet_title: str = "Dữ liệu") -> Path:
    """Write the rows to a new XLSX file (dates as dates, numbers as numbers) and return its path.

    Text is written as text even when it starts with ``=``: a file's cell must never become a
    formula that runs in the reader's spreadsheet program.
    """
    try:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=_SHEET_UNSAFE.sub(" ", sheet_title).strip()[:31] or "Dữ liệu")
        bold = Font(bold=True)
        header = []
        for field in result.fields:
            cell = _text_cell(sheet, field["id"])
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        converters = [(index, convert) for index, field in enumerate(result.fields)
                      if (convert := _EXCEL_TYPES.get(field["type"]))]
        for count, values in enumerate(result.rows(), start=1):
            if count > XLSX_MAX_ROWS:
                break
            for index, convert in converters:
                if values[index] is not None:
                    values[index] = convert(values[index])
            sheet.append([_text_cell(sheet, value) if isinstance(value, str) else value for value in values])
    finally:
        result.close()
    handle, name = tempfile.mkstemp(suffix=".xlsx", dir=directory)
    os.close(handle)
    try:
        workbook.save(name)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def _text_cell(sheet: Any, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"  # not "f", whatever the text starts with
    return cell


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download_stem(resource: Any) -> str:
    """The name a table's conversions are saved under: its file's, without the extension."""
    return PurePosixPath(resource.filename or resource.name or "").stem or "du-lieu"


def csv_response(result: RowResult, stem: str, *, bom: bool = False) -> Response:
    response = Response(csv_chunks(result, bom=bom), mimetype="text/csv",
                        headers={"Content-Disposition": attachment(f"{stem}.csv")})
    response.charset = "utf-8"
    return response


def xlsx_response(result: RowResult, stem: str) -> Response:
    """The rows as an XLSX download; the temporary file goes once the answer is sent."""
    path = xlsx_file(result, sheet_title=stem)
    response = send_file(path, mimetype=XLSX_TYPE, as_attachment=True, download_name=f"{stem}.xlsx",
                         conditional=False, etag=False)
    response.call_on_close(lambda: path.unlink(missing_ok=True))
    return response
