"""Find personal data in a tabular file before it is published.

Two signals: cell values that look like citizen ID numbers (CCCD, CMND), phone
numbers or e-mail addresses, and column headers that name personal data
(``Họ và tên``, ``Ngày sinh``…). Public statistics are full of numbers, so the
value patterns are strict: a citizen ID must stand alone, not be part of a
longer number, a thousands-grouped figure or a decimal; a phone number needs its
leading 0 or +84. Reports keep only masked samples, never a full value.

Files are streamed: CSV line by line, XLSX through openpyxl's read-only mode.
"""

from __future__ import annotations

import csv
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from itertools import chain, islice
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from opendata.storage.encoding import detect, open_text
from opendata.storage.sniff import guess_delimiter
from opendata.text import fold

KIND_LABELS = {
    # Found in cell values
    "cccd": "Số căn cước công dân (CCCD)",
    "cmnd": "Số chứng minh nhân dân (CMND)",
    "phone": "Số điện thoại",
    "email": "Địa chỉ thư điện tử",
    # Named by a column header
    "name": "Họ và tên",
    "birth_date": "Ngày sinh, năm sinh",
    "citizen_id": "Số định danh, căn cước, CMND",
    "passport": "Số hộ chiếu",
    "address": "Địa chỉ, nơi ở",
    "hometown": "Quê quán, nơi sinh",
    "gender": "Giới tính",
    "ethnicity": "Dân tộc",
    "religion": "Tôn giáo",
    "tax_id": "Mã số thuế cá nhân",
    "social_insurance": "Số bảo hiểm xã hội, bảo hiểm y tế",
    "vehicle_plate": "Biển số xe",
}

# Folded header prefixes (see opendata.text.fold) for each kind.
_HEADER_PREFIXES = {
    "name": ("ho va ten", "ho ten", "ten cong dan", "ten nguoi", "ten chu ho"),
    "birth_date": ("ngay thang nam sinh", "ngay sinh", "nam sinh", "sinh ngay"),
    "citizen_id": (
        "so cccd", "cccd", "so cmnd", "cmnd", "so can cuoc", "can cuoc", "so dinh danh", "ma dinh danh",
    ),
    "passport": ("so ho chieu", "ho chieu"),
    "phone": ("so dien thoai", "dien thoai", "so dt", "sdt", "di dong"),
    "email": ("dia chi email", "dia chi thu dien tu", "email", "e mail", "thu dien tu"),
    "address": ("dia chi", "noi thuong tru", "thuong tru", "tam tru", "noi o", "cho o", "noi cu tru"),
    "hometown": ("que quan", "nguyen quan", "noi sinh"),
    "gender": ("gioi tinh",),
    "ethnicity": ("dan toc",),
    "religion": ("ton giao",),
    "tax_id": ("ma so thue ca nhan", "mst ca nhan"),
    "social_insurance": (
        "so bhxh", "ma so bhxh", "so so bhxh", "so bao hiem xa hoi", "so the bhyt", "ma the bhyt",
    ),
    "vehicle_plate": ("bien so xe", "bien so", "bien kiem soat"),
}
# Longest first, so that `Địa chỉ email` is an e-mail column, not an address.
_HEADER_KINDS = sorted(
    ((prefix, kind) for kind, prefixes in _HEADER_PREFIXES.items() for prefix in prefixes),
    key=lambda pair: -len(pair[0]),
)
# Words after the prefix that make it an organisation's or a system's, not a person's:
# `Địa chỉ truy cập`, `Điện thoại đường dây nóng`, `Địa chỉ trụ sở`.
_PUBLIC_QUALIFIERS = re.compile(
    r"\b(?:truy cap|website|web|trang|url|ip|mang|co quan|don vi|to chuc|doanh nghiep|tru so"
    r"|du an|cong trinh|duong day nong|tong dai|diem|tram|mien|thu muc|luu tru|ung dung)\b"
)
# Quasi-identifiers: personal only next to something that identifies the person.
# `Giới tính` or `Dân tộc` alone heads an aggregate table.
_QUASI_KINDS = frozenset({"birth_date", "address", "hometown", "gender", "ethnicity", "religion"})

# --- Value patterns ------------------------------------------------------------------

# Quick pre-check: nine digits, at most two separator characters apart.
_MANY_DIGITS = re.compile(r"\d(?:[\s.\-()+]{0,2}\d){8}")
# Not inside a word, a code (`QĐ-`, `1234/`), a grouped figure or a decimal.
_ALONE_BEFORE = r"(?<![\w+/\-])(?<!\d[.,])"
_ID = re.compile(_ALONE_BEFORE + r"(\d{12}|\d{9})(?![\w/\-]|[.,]\d)")
_PHONE = re.compile(
    # `(0263) 3822123`: an area code in brackets is how many offices write landlines.
    _ALONE_BEFORE + r"(\(?\+84\)?[\s.\-]?|84|\(?0)(\d(?:(?:\)\s?|[\s.\-])?\d){7,9})(?!\d|[.,\-]\d)"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_VALID_PHONE = re.compile(r"0[35789]\d{8}|02\d{9}|01[2689]\d{8}")  # mobile, landline, pre-2018 mobile

# Province codes that begin a CCCD (Circular 07/2016/TT-BCA).
_PROVINCES = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034"
    " 035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068"
    " 070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)
_THIS_YEAR_2D = date.today().year % 100  # no one born in the 2000s is younger than this


def valid_cccd(digits: str) -> bool:
    """12 digits: province code, century-and-gender digit (0-3: born 1900-2099), birth year."""
    if len(digits) != 12 or digits[:3] not in _PROVINCES:
        return False
    century = digits[3]
    if century in "01":
        return True
    return century in "23" and int(digits[4:6]) <= _THIS_YEAR_2D


def mask(kind: str, value: str) -> str:
    """Keep a few characters, enough for the publisher to find the cell, never the value."""
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "cccd":
        return value[:4] + "*" * 5 + value[-3:]
    if kind == "cmnd":
        return value[:3] + "*" * 4 + value[-2:]
    return value[:3] + "*" * (len(value) - 6) + value[-3:]


def _national_phone(prefix: str, rest: str) -> str | None:
    digits = re.sub(r"\D", "", prefix + rest)
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    return digits if _VALID_PHONE.fullmatch(digits) else None


def scan_text(value: str) -> Iterator[tuple[str, str, bool]]:
    """(kind, masked sample, strong) for each personal value in a cell's text.

    Strong findings count on their own; weak ones (a 9-digit number without a
    leading 0 could be an amount) count only when nearly all the column has them.
    """
    for kind, raw, strong in _values_in_text(value):
        yield kind, mask(kind, raw), strong


def _values_in_text(value: str) -> Iterator[tuple[str, str, bool]]:
    """Like scan_text, with the values unmasked: masking waits until a sample is kept."""
    if "@" in value:
        for match in _EMAIL.finditer(value):
            yield "email", match.group(), True
    if len(value) < 9 or not _MANY_DIGITS.search(value):
        return
    phones = []
    for match in _PHONE.finditer(value):
        phone = _national_phone(match.group(1), match.group(2))
        if phone is not None:
            phones.append(match.span())
            yield "phone", phone, True
    for match in _ID.finditer(value):
        if any(start <= match.start() < end for start, end in phones):
            continue  # `(+84)912345678` is a phone, not a CMND
        digits = match.group(1)
        if len(digits) == 12:
            if valid_cccd(digits):
                yield "cccd", digits, True
        elif digits.startswith("0"):
            yield "cmnd", digits, True
        elif digits[0] in "123" and not digits.endswith("000"):  # round figures are amounts
            yield "cmnd", digits, False


def _values_in_number(value: int) -> Iterator[tuple[str, str, bool]]:
    """A spreadsheet number may be an ID or a phone whose leading 0 Excel dropped: weak."""
    digits = str(value)
    if digits.endswith("000") or len(digits) not in (9, 10, 11):
        return
    if len(digits) == 11 and valid_cccd("0" + digits):
        yield "cccd", "0" + digits, False
    elif _VALID_PHONE.fullmatch("0" + digits):
        yield "phone", "0" + digits, False
    elif len(digits) == 9 and digits[0] in "123":
        yield "cmnd", digits, False


def header_kind(header: str) -> str | None:
    """The kind of personal data a column header names, matched without diacritics."""
    words = " ".join(re.findall(r"[a-z0-9]+", fold(header)))
    for prefix, kind in _HEADER_KINDS:
        if words == prefix or words.startswith(prefix + " "):
            rest = words[len(prefix):]
            return None if _PUBLIC_QUALIFIERS.search(rest) else kind
    return None


# --- Report --------------------------------------------------------------------------


@dataclass
class Finding:
    kind: str
    label_vi: str
    count: int
    samples: list[str] = field(default_factory=list)


@dataclass
class ColumnFinding:
    column: str
    index: int
    sheet: str | None = None
    header_kind: str | None = None
    findings: list[Finding] = field(default_factory=list)


@dataclass
class ScanReport:
    """What the scan found, JSON-ready through ``to_dict`` so it can be stored with the resource."""

    rows_scanned: int = 0
    columns: list[ColumnFinding] = field(default_factory=list)
    truncated: bool = False
    error: str | None = None

    @property
    def has_findings(self) -> bool:
        return bool(self.columns)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanReport:
        columns = [
            ColumnFinding(
                **{**column, "findings": [Finding(**finding) for finding in column.get("findings", [])]}
            )
            for column in data.get("columns", [])
        ]
        return cls(
            rows_scanned=data.get("rows_scanned", 0),
            columns=columns,
            truncated=data.get("truncated", False),
            error=data.get("error"),
        )


_MAX_SAMPLES = 3
# Weak values count when nearly the whole column has them: a CMND column is all
# 9-digit numbers, a column of amounts has figures of many lengths.
_WEAK_SHARE = 0.8


class _Column:
    """Counts for one column while the rows stream past."""

    __slots__ = ("header", "index", "sheet", "kind", "filled", "strong", "weak", "samples")

    def __init__(self, header: str, index: int, sheet: str | None):
        self.header = header or f"Cột {get_column_letter(index + 1)}"
        self.index = index
        self.sheet = sheet
        self.kind = header_kind(header) if header else None
        self.filled = 0
        self.strong: Counter[str] = Counter()
        self.weak: Counter[str] = Counter()
        self.samples: dict[str, list[str]] = {}

    def add(self, found: Iterable[tuple[str, str, bool]]) -> None:
        for kind, value, strong in found:
            (self.strong if strong else self.weak)[kind] += 1
            samples = self.samples.setdefault(kind, [])
            if len(samples) < _MAX_SAMPLES and (sample := mask(kind, value)) not in samples:
                samples.append(sample)

    def findings(self) -> list[Finding]:
        counts = Counter(self.strong)
        for kind, count in self.weak.items():
            if count >= _WEAK_SHARE * self.filled or self.kind in ("citizen_id", "phone"):
                counts[kind] += count
        return [Finding(kind, KIND_LABELS[kind], count, self.samples[kind]) for kind, count in counts.items()]


class _Table:
    """The columns of one CSV file or one XLSX sheet."""

    def __init__(self, header: list[Any], sheet: str | None):
        self.sheet = sheet
        self.columns = [_Column(_header_text(value), index, sheet) for index, value in enumerate(header)]
        self.scan_row(header)  # a file without a header row has data here
        for column in self.columns:
            column.filled = 0  # the share of weak values is over the data cells

    def scan_row(self, row: Iterable[Any]) -> None:
        columns = self.columns
        for index, value in enumerate(row):
            if value is None or value == "":
                continue
            if index >= len(columns):
                columns.extend(_Column("", i, self.sheet) for i in range(len(columns), index + 1))
            column = columns[index]
            column.filled += 1
            if isinstance(value, str):
                if len(value) >= 9 or "@" in value:
                    column.add(_values_in_text(value))
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 100_000_000:
                column.add(_values_in_number(value))

    def report(self) -> list[ColumnFinding]:
        found = [(column, column.findings()) for column in self.columns]
        direct = any(
            findings or (column.kind is not None and column.kind not in _QUASI_KINDS)
            for column, findings in found
        )
        return [
            ColumnFinding(column.header, column.index, column.sheet, column.kind, findings)
            for column, findings in found
            if findings or (column.kind is not None and (direct or column.kind not in _QUASI_KINDS))
        ]


def _header_text(value: Any) -> str:
    return "" if value is None else unicodedata.normalize("NFC", str(value)).lstrip("\ufeff").strip()


# --- Reading -------------------------------------------------------------------------


class _Unreadable(Exception):
    """A file the scanner cannot read; the message is for the publisher."""


_SNIFF_LINES = 50
_MAX_FIELD = 128 * 1024  # the csv module's own default
_HEADER_SEARCH_ROWS = 10


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")


def _looks_binary(lines: list[str]) -> bool:
    """Control characters or undecodable bytes in more than 1% of the text: not a table."""
    text = "".join(lines)
    return len(_CONTROL.findall(text)) > max(1, len(text) // 100)


def _csv_rows(path: Path, fmt: str, codec: str | None) -> Iterator[list[str]]:
    if codec is None:
        with path.open("rb") as stream:
            codec = detect(stream.read(64 * 1024)).codec
    # The csv module's field limit is process-wide and other libraries raise it; a file with
    # one unterminated quote would otherwise be read into memory as a single field.
    csv.field_size_limit(_MAX_FIELD)
    with open_text(path, codec) as lines:
        head = list(islice(lines, _SNIFF_LINES))
        if _looks_binary(head):
            raise _Unreadable("Tệp chứa dữ liệu nhị phân, không phải văn bản dạng bảng.")
        delimiter = guess_delimiter(head) or ("\t" if fmt == "TSV" else ",")
        reader = csv.reader(chain(head, lines), delimiter=delimiter)
        try:
            yield from reader
        except csv.Error as exc:
            message = f"Tệp {fmt} sai cấu trúc ở dòng {reader.line_num}, không đọc tiếp được."
            raise _Unreadable(message) from exc


def _scan_csv(path: Path, fmt: str, codec: str | None, max_rows: int | None, report: ScanReport) -> None:
    rows = _csv_rows(path, fmt, codec)
    header = next(rows, None)
    if header is None:
        return
    table = _Table(header, None)
    for row in islice(rows, max_rows):
        table.scan_row(row)
        report.rows_scanned += 1
    report.truncated = max_rows is not None and next(rows, None) is not None
    report.columns = table.report()


def _scan_xlsx(path: Path, max_rows: int | None, report: ScanReport) -> None:
    # A stream, not the path: stored files have no extension, which openpyxl would refuse.
    with path.open("rb") as stream:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        try:
            for sheet in workbook.worksheets:
                left = None if max_rows is None else max_rows - report.rows_scanned
                if left is not None and left <= 0:
                    report.truncated = True
                    break
                report.columns.extend(_scan_sheet(sheet, left, report))
        finally:
            workbook.close()


def _scan_sheet(sheet: Any, max_rows: int | None, report: ScanReport) -> list[ColumnFinding]:
    rows = sheet.iter_rows(values_only=True)
    head = list(islice(rows, _HEADER_SEARCH_ROWS))
    at = _header_row(head)
    if at is None:
        return []
    table = _Table(list(head[at]), sheet.title)
    for title in head[:at]:
        table.scan_row(title)
    data = chain(head[at + 1 :], rows)
    for row in islice(data, max_rows):
        table.scan_row(row)
        report.rows_scanned += 1
    if max_rows is not None and next(data, None) is not None:
        report.truncated = True
    return table.report()


def _header_row(rows: list[tuple[Any, ...]]) -> int | None:
    """The first row with two filled cells: a sheet often opens with a one-cell title."""
    filled = [sum(value not in (None, "") for value in row) for row in rows]
    for minimum in (2, 1):
        for index, count in enumerate(filled):
            if count >= minimum:
                return index
    return None


def scan_file(path: Path, fmt: str, codec: str | None = None, *, max_rows: int | None = None) -> ScanReport:
    """Scan a CSV, TSV or XLSX file (every sheet) for personal data, streaming it.

    ``codec`` is the text encoding of a CSV/TSV (detected when None). A file that
    cannot be read gives a report whose ``error`` says why, never an exception.
    """
    report = ScanReport()
    try:
        if fmt in ("CSV", "TSV"):
            _scan_csv(path, fmt, codec, max_rows, report)
        elif fmt == "XLSX":
            _scan_xlsx(path, max_rows, report)
        else:
            report.error = f"Không quét được định dạng {fmt}: chỉ quét CSV, TSV và XLSX."
    except _Unreadable as exc:
        report.error = str(exc)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, TypeError, EOFError) as exc:
        report.error = f"Không đọc được tệp {fmt}: tệp bị hỏng hoặc sai định dạng ({exc.__class__.__name__})."
    except LookupError:
        report.error = f"Không nhận ra bảng mã «{codec}» của tệp {fmt}."
    except OSError:
        report.error = f"Không mở được tệp {fmt} để quét."
    return report
