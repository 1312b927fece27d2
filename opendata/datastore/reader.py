"""Open a tabular file (CSV, TSV, XLSX, JSON array of objects) as headers plus a stream of rows.

Nothing is loaded whole: CSV is decoded line by line (legacy Vietnamese encodings
included, see ``opendata.storage.encoding``), XLSX goes through openpyxl's
read-only mode, JSON through ijson. ``Table.rows()`` starts from the top again
on every call, so a caller can infer types over a sample and then load all rows.

Header rules. The header is the first row at least half as wide as the widest
of the first 20 rows (and two cells wide when the table is): leading blank rows
and the one-cell title rows of office spreadsheets (``BÁO CÁO …``, ``Đơn vị tính:
triệu đồng``) are skipped and listed in ``Table.skipped``, and so is a row that
only numbers the columns — ``(1) (2) (3)`` — right under the header. Header
names are kept as written, in NFC, with surrounding whitespace stripped and
line breaks inside a cell turned into one space. As Frictionless does (and so
ckanext-validation), a blank name becomes ``field<N>`` (N the column's
position, from 1) and a repeated name gets its occurrence number, ``Năm``,
``Năm2``, ``Năm3``; the names ``_id`` and ``_full_text``, which the CKAN
datastore reserves, count as already used. The table is as wide as its header
or as the widest of the first 100 data rows, whichever is wider, not counting
empty trailing cells; fully empty rows are skipped.
"""

from __future__ import annotations

import csv
from abc import ABC, abstractmethod
import io
import json
import math
import re
import unicodedata
import weakref
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

import ijson
import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from opendata.storage.encoding import decode, detect, open_text
from opendata.storage.sniff import guess_delimiter

FORMATS = ("CSV", "TSV", "XLSX", "JSON")
RESERVED_NAMES = frozenset({"_id", "_full_text"})

_SNIFF_LINES = 50
_HEADER_SEARCH_ROWS = 20
_WIDTH_SAMPLE_ROWS = 100
_MAX_FIELD = 128 * 1024  # the csv module's default; larger means a quote left open
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")
_LINE_BREAKS = re.compile(r"\s*[\r\n\t\v\f]\s*")
_COLUMN_NUMBER = re.compile(r"\(?(\d+)\)?")


class TableError(Exception):
    """A file that cannot be read as a table; ``str()`` is a Vietnamese message for the
    publisher, ``line`` the line (CSV), sheet row (XLSX) or record (JSON) at fault."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class SkippedRow:
    """A row above the header that is not data: a title, a note, a blank or a column-number row."""

    line: int
    text: str


class Table:
    """Headers and rows of one table. Use as a context manager; ``rows()`` may be called again.

    ``headers`` are the unique column names; ``encoding`` the label of the text
    encoding (None for XLSX); ``delimiter`` the CSV/TSV delimiter (None otherwise);
    ``sheet`` the XLSX sheet read; ``header_line`` where the header is (None for
    JSON); ``skipped`` the rows above the data that are not data.
    """

    def __init__(self, source: _Source, fmt: str, *, detect_header: bool = True):
        self._source = source
        self.format = fmt
        self.encoding: str | None = getattr(source, "label", None)
        self.delimiter: str | None = getattr(source, "delimiter", None)
        self.sheet: str | None = getattr(source, "sheet", None)
        self.skipped: list[SkippedRow] = []
        self.line_num = 0  # where the last row yielded by rows() ends
        self._open: weakref.WeakSet[Iterator] = weakref.WeakSet()
        if detect_header:
            self._find_header()
        else:
            self._data_start = 0
            self.header_line: int | None = None
            self.headers = unique_headers([_header_text(name) for name in source.headers])
            self._width = len(self.headers)

    @property
    def decimal_hint(self) -> str | None:
        """Semicolon files come from Excel set to Vietnamese, where ``,`` is the decimal mark."""
        return "," if self.delimiter == ";" else None

    def _find_header(self) -> None:
        records = self._source.records()
        try:
            head = list(islice(records, _HEADER_SEARCH_ROWS + _WIDTH_SAMPLE_ROWS))
        finally:
            records.close()
        search = head[:_HEADER_SEARCH_ROWS]
        filled = [sum(1 for cell in cells if not _blank(cell)) for _, cells in search]
        widest = max(filled, default=0)
        if widest == 0:
            raise TableError("Tệp không có dữ liệu dạng bảng: không tìm thấy dòng tiêu đề.")
        need = max(min(2, widest), math.ceil(widest / 2))
        at = next(index for index, count in enumerate(filled) if count >= need)
        self.skipped = [SkippedRow(line, _row_text(cells)) for line, cells in head[:at]]
        self.header_line, header = head[at]
        data = head[at + 1 :]
        if data and _numbers_columns(data[0][1], _last_filled(header)):
            self.skipped.append(SkippedRow(data[0][0], _row_text(data[0][1])))
            at += 1
            data = data[1:]
        self._data_start = at + 1
        self._width = max([_last_filled(header)] + [_last_filled(cells) for _, cells in data])
        names = [_header_text(cell) for cell in header[: self._width]]
        self.headers = unique_headers(names + [""] * (self._width - len(names)))

    def rows(self) -> Iterator[list[Any]]:
        """The data rows, each exactly as wide as ``headers``: text for CSV/TSV, openpyxl's
        values for XLSX (int, float, datetime, bool, str, None), JSON's for JSON.

        Raises TableError for a row wider than the table or a file broken further down.
        """
        records = self._source.records()
        self._open.add(records)
        return self._rows(records)

    def _rows(self, records: Iterator[tuple[int, list[Any]]]) -> Iterator[list[Any]]:
        width, pad = self._width, self._source.empty
        try:
            for _ in range(self._data_start):
                next(records, None)
            for line, cells in records:
                size = len(cells)
                if size != width:
                    if size < width:
                        cells = list(cells) + [pad] * (width - size)
                    elif any(not _blank(cell) for cell in cells[width:]):
                        raise TableError(
                            f"Dòng {line} có {_last_filled(cells)} ô, nhiều hơn {width} cột của dòng "
                            f"tiêu đề (dòng {self.header_line}).",
                            line=line,
                        )
                    else:
                        cells = cells[:width]
                if not any(cells) and all(_blank(cell) for cell in cells):
                    continue
                self.line_num = line
                yield cells
        finally:
            records.close()

    def close(self) -> None:
        for records in list(self._open):
            records.close()
        self._source.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def unique_headers(names: list[str]) -> list[str]:
    """Blank names become ``field<N>``; repeats get their occurrence number (see the module doc)."""
    result: list[str] = []
    taken = set(RESERVED_NAMES)
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        base = name or f"field{position}"
        count = seen.get(base, 1 if base in taken else 0) + 1
        candidate = base if count == 1 else f"{base}{count}"
        while candidate in taken:
            count += 1
            candidate = f"{base}{count}"
        seen[base] = count
        taken.add(candidate)
        result.append(candidate)
    return result


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _last_filled(cells: list[Any]) -> int:
    for index in range(len(cells) - 1, -1, -1):
        if not _blank(cells[index]):
            return index + 1
    return 0


def _row_text(cells: list[Any]) -> str:
    return " | ".join(_header_text(cell) for cell in cells if not _blank(cell))


def _numbers_columns(cells: list[Any], width: int) -> bool:
    """``(1) (2) (3)`` or ``1 2 3`` under a header, one number per header cell: Vietnamese
    reports number their columns so that notes can refer to them."""
    texts = [str(cell).strip() for cell in cells if not _blank(cell)]
    matches = [_COLUMN_NUMBER.fullmatch(text) for text in texts]
    if len(texts) < 3 or not all(matches):
        return False
    return [int(match.group(1)) for match in matches] == list(range(1, width + 1))  # type: ignore[union-attr]


def _header_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    elif isinstance(cell, datetime):
        cell = cell.date() if cell.time() == time(0) else cell
    text = cell.isoformat() if isinstance(cell, (date, time)) else str(cell)
    return _LINE_BREAKS.sub(" ", unicodedata.normalize("NFC", text).lstrip("\ufeff").strip())


# --- Sources ---------------------------------------------------------------------------


class _Source(ABC):
    """Records of one file, from the top on every ``records()`` call: (line, cells)."""

    empty: Any = None
    headers: list[str] = []

    @abstractmethod
    def records(self) -> Iterator[tuple[int, list[Any]]]:
        """Every record of the file, with the line (or row) it starts on."""

    def close(self) -> None:
        pass


class _CsvSource(_Source):
    empty = ""

    def __init__(self, path: Path, fmt: str, codec: str | None):
        self.path, self.format = path, fmt
        if codec is None:
            with path.open("rb") as stream:
                detected = detect(stream.read(64 * 1024))
            codec, self.label = detected.codec, detected.label
        else:
            self.label = codec
        self.codec = codec
        try:
            with open_text(path, codec) as lines:
                head = list(islice(lines, _SNIFF_LINES))
        except LookupError:
            raise TableError(f"Không nhận ra bảng mã «{codec}» của tệp {fmt}.") from None
        text = "".join(head)
        if len(_CONTROL.findall(text)) > max(1, len(text) // 100):
            raise TableError(f"Tệp {fmt} chứa dữ liệu nhị phân hoặc sai bảng mã, không phải văn bản dạng bảng.")
        self.delimiter = _sniff_delimiter(head) or ("\t" if fmt == "TSV" else ",")

    def records(self) -> Iterator[tuple[int, list[str]]]:
        # The limit is process-wide and other libraries raise it; an unclosed quote
        # would otherwise swallow the rest of the file into one field.
        csv.field_size_limit(_MAX_FIELD)
        with open_text(self.path, self.codec) as lines:
            reader = csv.reader(lines, delimiter=self.delimiter, strict=True)
            start = 1
            try:
                for cells in reader:
                    yield start, cells
                    start = reader.line_num + 1
            except csv.Error as exc:
                raise _csv_error(self.format, str(exc), start, reader.line_num) from None


def _csv_error(fmt: str, reason: str, start: int, line: int) -> TableError:
    if "end of data" in reason or "field limit" in reason:
        return TableError(f"Tệp {fmt} sai cấu trúc ở dòng {start}: dấu ngoặc kép mở ở dòng này không được đóng.",
                          line=start)
    if "expected after" in reason:
        return TableError(f"Tệp {fmt} sai cấu trúc ở dòng {line}: sau dấu ngoặc kép đóng phải là dấu phân cách "
                          "hoặc hết dòng.", line=line)
    if "NUL" in reason:
        return TableError(f"Tệp {fmt} chứa ký tự NUL ở dòng {line}: có thể không phải tệp văn bản.", line=line)
    return TableError(f"Tệp {fmt} sai cấu trúc ở dòng {line}, không đọc tiếp được.", line=line)


def _sniff_delimiter(head: list[str]) -> str | None:
    """``,`` ``;`` or tab as guess_delimiter finds it, or ``|``; retried without up to three
    leading lines, since a title line above the header breaks the column count."""
    for skip in range(4):
        lines = head[skip:]
        found = guess_delimiter(lines)
        pipes = _pipe_columns(lines)
        if pipes >= 2 and (found is None or pipes > _columns(lines, found)):
            return "|"
        if found is not None:
            return found
    return None


def _columns(lines: list[str], delimiter: str) -> int:
    try:
        return max((len(row) for row in csv.reader(lines, delimiter=delimiter)), default=0)
    except csv.Error:
        return 0


def _pipe_columns(lines: list[str]) -> int:
    """The column count that 90% of the lines share when split on ``|``, or 0."""
    lines = [line for line in lines if line.strip()]
    try:
        counts = [len(row) for row in csv.reader(lines, delimiter="|") if row]
    except csv.Error:
        return 0
    if len(counts) < 2:
        return 0
    common = max(set(counts), key=counts.count)
    return common if counts.count(common) >= 0.9 * len(counts) else 0


class _XlsxSource(_Source):
    def __init__(self, path: Path, sheet: str | int | None):
        # A stream, not the path: stored files have no extension, which openpyxl would refuse.
        self._stream = path.open("rb")
        try:
            self._workbook = openpyxl.load_workbook(self._stream, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, TypeError, EOFError, SyntaxError,
                OSError) as exc:
            self._stream.close()
            raise TableError(f"Không đọc được tệp XLSX: tệp bị hỏng hoặc sai định dạng ({type(exc).__name__}).") \
                from None
        names = self._workbook.sheetnames
        if sheet is None:
            sheet = 0
        if isinstance(sheet, int) and 0 <= sheet < len(names) or sheet in names:
            self._sheet = self._workbook[names[sheet] if isinstance(sheet, int) else sheet]
        else:
            self.close()
            raise TableError(f"Tệp XLSX không có trang tính «{sheet}»; các trang tính: {', '.join(names)}.")
        self.sheet = self._sheet.title
        self._sheet.reset_dimensions()  # some writers store a wrong size, which would cut rows

    def records(self) -> Iterator[tuple[int, list[Any]]]:
        try:
            for line, values in enumerate(self._sheet.iter_rows(values_only=True), start=1):
                yield line, [_nfc(value) for value in values]
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError, EOFError, SyntaxError) as exc:
            raise TableError(f"Không đọc được tệp XLSX: trang tính «{self.sheet}» bị hỏng "
                             f"({type(exc).__name__}).") from None

    def close(self) -> None:
        self._workbook.close()
        self._stream.close()


def _nfc(value: Any) -> Any:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


class _JsonSource(_Source):
    """An array of flat objects; headers are the union of keys in first-seen order."""

    def __init__(self, path: Path, codec: str | None):
        self.path = path
        with path.open("rb") as stream:
            detected = detect(stream.read(64 * 1024))
        self.codec = codec or detected.codec
        self.label = codec or detected.label
        keys: dict[str, None] = {}
        for _, record in self._objects():
            keys.update(dict.fromkeys(record))
        self.headers = list(keys)

    def _objects(self) -> Iterator[tuple[int, dict[str, Any]]]:
        with self.path.open("rb") as raw:
            stream = raw if self.codec in ("utf-8", "utf-8-sig") else _Utf8Stream(raw, self.codec)
            if stream is raw and raw.read(3) != b"\xef\xbb\xbf":
                raw.seek(0)
            number = 0
            try:
                for number, item in enumerate(ijson.items(stream, "item", use_float=True), start=1):
                    if not isinstance(item, dict):
                        raise TableError(f"Tệp JSON phải là một mảng các đối tượng; phần tử thứ {number} "
                                         "không phải đối tượng.", line=number)
                    yield number, item
            except ijson.JSONError as exc:
                raise self._json_error(exc, number + 1) from None
            if number == 0:
                self._check_array()

    def _json_error(self, exc: Exception, record: int) -> TableError:
        """The exact line from the standard parser when the file is small enough to re-read."""
        if self.path.stat().st_size < 50 * 1024 * 1024:
            try:
                json.loads(decode(self.path.read_bytes(), self.codec, errors="strict"))
            except json.JSONDecodeError as error:
                return TableError(f"Tệp JSON sai cú pháp ở dòng {error.lineno}, cột {error.colno}.",
                                  line=error.lineno)
            except ValueError:
                pass
        return TableError(f"Tệp JSON sai cú pháp ở bản ghi thứ {record} ({exc}).", line=record)

    def _check_array(self) -> None:
        with self.path.open("rb") as raw:
            stream = raw if self.codec in ("utf-8", "utf-8-sig") else _Utf8Stream(raw, self.codec)
            for prefix, event, _ in ijson.parse(stream):
                if prefix == "" and event != "start_array":
                    raise TableError("Tệp JSON phải là một mảng các đối tượng.", line=1)
                break

    def records(self) -> Iterator[tuple[int, list[Any]]]:
        headers = self.headers
        for number, record in self._objects():
            yield number, [_json_value(record.get(key)) for key in headers]


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


class _Utf8Stream:
    """A file in another encoding (UTF-16, say), re-encoded as UTF-8 for ijson: only ``read``."""

    def __init__(self, raw: io.BufferedReader, codec: str):
        self._text = io.TextIOWrapper(raw, encoding=codec, errors="replace")
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            chunk = self._text.read(64 * 1024 if size < 0 else max(size, 4096))
            if not chunk:
                break
            self._pending += unicodedata.normalize("NFC", chunk).encode("utf-8")
        out, self._pending = (self._pending, b"") if size < 0 else (self._pending[:size], self._pending[size:])
        return out


# --- Entry point -----------------------------------------------------------------------


def open_table(path: Path, fmt: str, codec: str | None = None, *, sheet: str | int | None = None) -> Table:
    """Open a stored tabular file. ``fmt`` is the portal's format name (CSV, TSV, XLSX,
    JSON); ``codec`` the text encoding, detected when None; ``sheet`` an XLSX sheet name
    or index, the first sheet by default.

    Raises TableError when the file cannot be read as a table.
    """
    fmt = fmt.upper()
    try:
        if fmt in ("CSV", "TSV"):
            return Table(_CsvSource(path, fmt, codec), fmt)
        if fmt == "XLSX":
            return _open_xlsx(path, sheet)
        if fmt == "JSON":
            source = _JsonSource(path, codec)
            if not source.headers:
                raise TableError("Tệp JSON không có bản ghi nào.")
            return Table(source, fmt, detect_header=False)
    except OSError:
        raise TableError(f"Không mở được tệp {fmt}.") from None
    raise TableError(f"Không đọc được định dạng {fmt} như một bảng: chỉ hỗ trợ CSV, TSV, XLSX và JSON.")


def _open_xlsx(path: Path, sheet: str | int | None) -> Table:
    source = _XlsxSource(path, sheet)
    try:
        return Table(source, "XLSX")
    except BaseException:
        source.close()
        raise
