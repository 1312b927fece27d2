"""Column types of a table: inferred from a sample of its rows, then used to parse every cell.

The result of inference is a Frictionless Table Schema, which is what the publisher
edits as the data dictionary; ``parser_for(field)`` turns one field of it back into
a function from cell to Python value, so a type the publisher changes re-validates
the rows with the same code that loaded them.

Vietnamese conventions, decided per column from the values themselves:

* Numbers. Vietnamese writes ``1.886.105`` and ``96,4``; English-style files write
  ``1,886,105`` and ``96.4``. A value settles the convention when only one reading
  fits it: two or more of the same separator (``1.886.105``: ``.`` groups), both
  separators (``1.234,5``), or one separator not followed by exactly three digits
  (``96,4``: ``,`` is the decimal mark). ``29.512`` and ``1,500`` fit both. A column
  whose values settle on both conventions is text. An unsettled column takes, in
  order: the convention the table's other columns settled on; ``.``/``,`` as groups
  when two or more of its values have three digits after a single separator and
  none fits only as a decimal (whole amounts such as ``1.500``, ``12.000``); the
  caller's hint (the reader suggests ``,`` for semicolon files, which is what Excel
  writes with Vietnamese regional settings); and finally ``.`` as the decimal mark,
  which is what machine-readable files use. ``96,4%`` is a number with the field's
  ``unit`` set to ``%`` (and ``bareNumber: false``, so Frictionless reads it too).
  Digits with a leading zero (``007``, ``0912345678``) and more than 18 digits are
  codes, not numbers: the column stays text.
* Dates. ``dd/mm/yyyy`` and ``d/m/yyyy`` (also with ``-`` or ``.``), ISO
  ``yyyy-mm-dd``; ``mm/dd/yyyy`` only when some value cannot be day-first.
  ``mm/yyyy`` stays text: a month is not a day, and ``7/2023`` is also how
  document numbers start. Datetimes: ISO (``T`` or space, optional seconds,
  fraction and offset) and ``dd/mm/yyyy HH:MM[:SS]``. Two-digit years stay text.
* Booleans: ``có``/``không``, ``đúng``/``sai``, ``true``/``false`` in any case. ``x``
  marks stay text (a Roman ten looks the same); a publisher can make such a column
  boolean with ``trueValues: ["x"]``.
* Nulls, for every type: an empty or blank cell, ``-``, ``–``, ``—``, ``N/A`` (any
  case) and Excel's error values (``#N/A``, ``#DIV/0!``…). ``không có`` is an answer,
  not a null. The list is written to the schema as ``missingValues``.

Any value that fits no candidate type makes the column text: inference never
guesses a type that would reject a value of its own sample.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from itertools import islice
from typing import Any

SAMPLE_ROWS = 10_000

MISSING_VALUES = ("", "-", "–", "—", "N/A", "#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!")
_NULLS = frozenset(token.casefold() for token in MISSING_VALUES)

TRUE_VALUES = ("có", "đúng", "true")
FALSE_VALUES = ("không", "sai", "false")

CKAN_TYPES = {
    "integer": "int",
    "number": "numeric",
    "string": "text",
    "date": "date",
    "datetime": "timestamp",
    "boolean": "bool",
}

_TYPE_NAMES_VI = {
    "integer": "số nguyên",
    "number": "số",
    "string": "văn bản",
    "date": "ngày",
    "datetime": "ngày giờ",
    "boolean": "đúng/sai",
}

_MAX_DIGITS = 18  # beyond int64: an identifier, not a quantity


class CellError(ValueError):
    """A cell value that breaks its column's type; the message is for the publisher."""

    def __init__(self, value: Any, field: Mapping[str, Any]):
        self.value = value
        self.field = field.get("name")
        self.type = field.get("type", "string")
        kind = _TYPE_NAMES_VI.get(self.type, self.type)
        super().__init__(f"Giá trị «{value}» ở cột «{self.field}» không phải {kind}.")


def is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().casefold() in _NULLS)


def ckan_type(field: Mapping[str, Any]) -> str:
    """The CKAN datastore type name (``int``, ``numeric``, ``text``…) of a schema field."""
    return CKAN_TYPES.get(field.get("type", "string"), "text")


# --- Numbers -------------------------------------------------------------------------

_NUMBER = re.compile(r"([+\-−]?)(\d(?:[\d.,]*\d)?)(\s*%)?")


def _number_shape(text: str) -> tuple[str, str | None, bool] | None:
    """How a numeric-looking string uses its separators: (shape, separator, percent), or None.

    Shapes: ``plain`` digits; ``group`` (``sep`` separates thousands only);
    ``decimal`` (``sep`` can only be a decimal mark); ``mixed`` (``sep`` is the
    decimal mark and the other one groups); ``ambiguous`` (``d.ddd``: either).
    """
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    body, percent = match.group(2), match.group(3) is not None
    dots, commas = body.count("."), body.count(",")
    digits = len(body) - dots - commas
    if digits > _MAX_DIGITS:
        return None
    if not dots and not commas:
        return None if len(body) > 1 and body[0] == "0" else ("plain", None, percent)
    if dots and commas:
        last = max(body.rfind("."), body.rfind(","))
        decimal, group = body[last], "," if body[last] == "." else "."
        if body.count(decimal) != 1 or not _grouped(body[:last], group):
            return None
        return "mixed", decimal, percent
    sep = "." if dots else ","
    if dots + commas > 1:
        return ("group", sep, percent) if _grouped(body, sep) else None
    whole, fraction = body.split(sep)
    if len(whole) > 1 and whole[0] == "0":
        return None
    if len(fraction) == 3 and len(whole) <= 3 and whole[0] != "0":
        return "ambiguous", sep, percent
    return "decimal", sep, percent


def _grouped(body: str, sep: str) -> bool:
    head, *groups = body.split(sep)
    return bool(groups) and 1 <= len(head) <= 3 and head[0] != "0" and all(len(g) == 3 for g in groups)


def _number_parser(field: Mapping[str, Any], integer: bool) -> Callable[[Any], Any]:
    group = field.get("groupChar")
    decimal = field.get("decimalChar") or ("," if group == "." else ".")
    bare = field.get("bareNumber", True) and field.get("unit") != "%"
    g, d = re.escape(group or ""), re.escape(decimal)
    whole = rf"\d{{1,3}}(?:{g}\d{{3}})+|\d+" if group else r"\d+"
    suffix = "" if bare else r"\s*%?"
    pattern = re.compile(rf"([+\-−]?)({whole})(?:{d}(\d+))?{suffix}")

    def parse(value: Any) -> Any:
        kind = type(value)
        if kind is str:
            text = value.strip()
            if text.isascii() and text.isdigit():
                return int(text) if integer else float(text)
            if text.casefold() in _NULLS:
                return None
            match = pattern.fullmatch(text)
            if match is None:
                raise CellError(value, field)
            sign, digits, fraction = match.groups()
            digits = digits.replace(group, "") if group else digits
            negative = sign in ("-", "−")
            if integer:
                if fraction and fraction.strip("0"):
                    raise CellError(value, field)
                number = int(digits)
            else:
                number = float(f"{digits}.{fraction}" if fraction else digits)
            return -number if negative else number
        if kind is int:
            return value if integer else float(value)
        if kind is float:
            if not integer:
                return value
            if value.is_integer():
                return int(value)
        elif value is None:
            return None
        raise CellError(value, field)

    return parse


# --- Dates and datetimes -------------------------------------------------------------


def _dmy(sep: str, day_first: bool, with_time: bool, seconds: bool) -> tuple[str, re.Pattern, Callable]:
    order = ("%d", "%m") if day_first else ("%m", "%d")
    fmt = f"{order[0]}{sep}{order[1]}{sep}%Y"
    s = re.escape(sep)
    regex = rf"(\d{{1,2}}){s}(\d{{1,2}}){s}(\d{{4}})"
    if with_time:
        fmt += " %H:%M:%S" if seconds else " %H:%M"
        regex += r"\s+(\d{1,2}):(\d{2})" + (r":(\d{2})" if seconds else "")

    def build(groups: Sequence[str]) -> date | datetime:
        first, second, year, *clock = map(int, groups)
        day, month = (first, second) if day_first else (second, first)
        return datetime(year, month, day, *clock) if with_time else date(year, month, day)

    return fmt, re.compile(regex), build


def _iso_date(groups: Sequence[str]) -> date:
    return date(*map(int, groups))


def _iso_datetime(groups: Sequence[str]) -> datetime:
    year, month, day, hour, minute, second, fraction, offset = groups
    micro = int((fraction or "0").ljust(6, "0"))
    tz = None
    if offset == "Z":
        tz = timezone.utc
    elif offset:
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[-2:])
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz)


# Candidate formats in order of preference: day-first before month-first.
_DATE_FORMATS = [
    ("default", re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"), _iso_date),
    *(_dmy(sep, day_first, False, False) for day_first in (True, False) for sep in "/-."),
]
_DATETIME_FORMATS = [
    ("default", re.compile(
        r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?"
    ), _iso_datetime),
    *(_dmy("/", day_first, True, seconds) for day_first in (True, False) for seconds in (True, False)),
]


def _match_format(formats: list, fmt: str, text: str) -> date | datetime | None:
    for name, regex, build in formats:
        if name == fmt:
            match = regex.fullmatch(text)
            if match is None:
                return None
            try:
                return build(match.groups())
            except ValueError:
                return None
    try:  # a format the publisher typed in
        parsed = datetime.strptime(text, fmt)
    except ValueError:
        return None
    return parsed if formats is _DATETIME_FORMATS else parsed.date()


def _temporal_parser(field: Mapping[str, Any], with_time: bool) -> Callable[[Any], Any]:
    formats = _DATETIME_FORMATS if with_time else _DATE_FORMATS
    fmt = field.get("format") or "default"
    names = [name for name, _, _ in formats] if fmt == "any" else [fmt]

    def parse(value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.casefold() in _NULLS:
                return None
            for name in names:
                parsed = _match_format(formats, name, text)
                if parsed is not None:
                    return parsed
        elif isinstance(value, datetime):
            if with_time:
                return value
            if value.time() == time(0):
                return value.date()
        elif isinstance(value, date):
            return datetime.combine(value, time(0)) if with_time else value
        elif value is None:
            return None
        raise CellError(value, field)

    return parse


# --- Booleans and text ---------------------------------------------------------------


def _boolean_parser(field: Mapping[str, Any]) -> Callable[[Any], Any]:
    true = {str(v).strip().casefold() for v in field.get("trueValues") or TRUE_VALUES}
    false = {str(v).strip().casefold() for v in field.get("falseValues") or FALSE_VALUES}

    def parse(value: Any) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        text = str(value).strip().casefold()
        if text in true:
            return True
        if text in false:
            return False
        if text in _NULLS:
            return None
        raise CellError(value, field)

    return parse


_LONGEST_NULL = max(map(len, MISSING_VALUES))


def _text(value: Any) -> str | None:
    if type(value) is str:
        if len(value) > _LONGEST_NULL and not value[0].isspace():
            return value  # the common case, decided without folding the text
        return None if value.strip().casefold() in _NULLS else value
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def parser_for(field: Mapping[str, Any]) -> Callable[[Any], Any]:
    """A function from one cell (text, or a typed XLSX/JSON value) to its Python value.

    Nulls give None. Raises CellError for a value the field's type cannot hold.
    Build it once per column: it is the fast path for loading rows.
    """
    kind = field.get("type", "string")
    if kind in ("integer", "number"):
        return _number_parser(field, integer=kind == "integer")
    if kind in ("date", "datetime"):
        return _temporal_parser(field, with_time=kind == "datetime")
    if kind == "boolean":
        return _boolean_parser(field)
    return _text


def parse(value: Any, field: Mapping[str, Any]) -> Any:
    """Parse one cell against a schema field; raises CellError. See ``parser_for``."""
    return parser_for(field)(value)


# --- Inference -----------------------------------------------------------------------


class _Evidence:
    """What a column's sampled values allow, gathered value by value."""

    def __init__(self) -> None:
        self.count = 0
        self.number = True
        self.shapes: set[tuple[str, str | None]] = set()
        self.ambiguous: dict[str, int] = {".": 0, ",": 0}
        self.fraction = False  # a typed non-integral float
        self.percent = False
        # Candidate formats still consistent with the text values; None before the first one.
        self.dates: list[str] | None = None
        self.datetimes: list[str] | None = None
        self.typed_date = False  # an XLSX/JSON date (or midnight datetime) was seen
        self.typed_datetime = False
        self.boolean = True
        self.true: dict[str, None] = {}
        self.false: dict[str, None] = {}

    def add(self, value: Any) -> None:
        if is_null(value):
            return
        self.count += 1
        if isinstance(value, str):
            self._add_text(value.strip())
        elif isinstance(value, bool):
            self.number = False
            self.dates = self.datetimes = []
        elif isinstance(value, (int, float)):
            self.boolean = False
            self.dates = self.datetimes = []
            self.fraction |= isinstance(value, float) and not value.is_integer()
            self.shapes.add(("plain", None))
        elif isinstance(value, datetime) and value.time() == time(0) or type(value) is date:
            self.number = self.boolean = False
            self.typed_date = True
        elif isinstance(value, datetime):
            self.number = self.boolean = False
            self.typed_datetime = True
            self.dates = []
        else:
            self.number = self.boolean = False
            self.dates = self.datetimes = []

    def _add_text(self, text: str) -> None:
        if self.number:
            shape = _number_shape(text)
            if shape is None:
                self.number = False
            else:
                kind, sep, percent = shape
                self.shapes.add((kind, sep))
                self.percent |= percent
                if kind == "ambiguous":
                    self.ambiguous[sep] += 1
        if self.dates is None or self.dates:
            self.dates = self._still(_DATE_FORMATS, self.dates, text)
        if self.datetimes is None or self.datetimes:
            self.datetimes = self._still(_DATETIME_FORMATS, self.datetimes, text)
        if self.boolean:
            folded = text.casefold()
            if folded in TRUE_VALUES:
                self.true.setdefault(text)
            elif folded in FALSE_VALUES:
                self.false.setdefault(text)
            else:
                self.boolean = False

    @staticmethod
    def _still(formats: list, candidates: list[str] | None, text: str) -> list[str]:
        names = [name for name, _, _ in formats] if candidates is None else candidates
        if not text[:1].isdigit():
            return []
        return [name for name in names if _match_format(formats, name, text) is not None]

    def decimal(self) -> str | None:
        """The decimal mark the values settle on; None if none does; "" on a conflict."""
        settled = set()
        for kind, sep in self.shapes:
            if kind in ("decimal", "mixed"):
                settled.add(sep)
            elif kind == "group":
                settled.add("," if sep == "." else ".")
        if len(settled) > 1:
            return ""
        return settled.pop() if settled else None


def _number_field(name: str, evidence: _Evidence, decimal: str) -> dict[str, Any]:
    group = "," if decimal == "." else "."
    fraction = evidence.fraction or any(
        kind in ("decimal", "mixed") or (kind == "ambiguous" and sep == decimal)
        for kind, sep in evidence.shapes
    )
    grouped = any(
        kind in ("group", "mixed") or (kind == "ambiguous" and sep == group) for kind, sep in evidence.shapes
    )
    field: dict[str, Any] = {"name": name, "type": "number" if fraction else "integer"}
    if fraction and decimal != ".":
        field["decimalChar"] = decimal
    if grouped:
        field["groupChar"] = group
    if evidence.percent:
        field["unit"] = "%"
        field["bareNumber"] = False
    return field


def _field(name: str, evidence: _Evidence, decimal: str) -> dict[str, Any]:
    if evidence.count == 0:
        return {"name": name, "type": "string"}
    if evidence.boolean:
        return {"name": name, "type": "boolean",
                "trueValues": list(evidence.true) or list(TRUE_VALUES),
                "falseValues": list(evidence.false) or list(FALSE_VALUES)}
    if evidence.number and evidence.decimal() != "":
        return _number_field(name, evidence, decimal)
    if evidence.dates or evidence.dates is None and evidence.typed_date and not evidence.typed_datetime:
        return {"name": name, "type": "date", "format": evidence.dates[0] if evidence.dates else "default"}
    if evidence.datetimes or evidence.datetimes is None and evidence.typed_datetime:
        return {"name": name, "type": "datetime", "format": evidence.datetimes[0] if evidence.datetimes else "default"}
    return {"name": name, "type": "string"}


def infer_schema(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sample_rows: int = SAMPLE_ROWS,
    decimal_hint: str | None = None,
) -> dict[str, Any]:
    """A Frictionless Table Schema for ``headers``, inferred from the first ``sample_rows`` rows.

    ``rows`` are lists aligned with ``headers`` (the reader's rows). ``decimal_hint``
    is the decimal mark to assume when neither a column nor the table settles it.
    """
    columns = [_Evidence() for _ in headers]
    for row in islice(rows, sample_rows):
        for evidence, value in zip(columns, row):
            evidence.add(value)
    settled = {mark for evidence in columns if evidence.number and (mark := evidence.decimal())}
    table_decimal = settled.pop() if len(settled) == 1 else None
    fields = []
    for name, evidence in zip(headers, columns):
        decimal = evidence.decimal() if evidence.number else None
        if not decimal:
            decimal = table_decimal or _whole_amounts(evidence) or decimal_hint or "."
        fields.append(_field(name, evidence, decimal))
    return {"fields": fields, "missingValues": list(MISSING_VALUES)}


def _whole_amounts(evidence: _Evidence) -> str | None:
    """``1.500`` and ``12.000`` together: a column of grouped whole amounts."""
    for sep, count in evidence.ambiguous.items():
        if count >= 2 and not evidence.ambiguous["," if sep == "." else "."]:
            return "," if sep == "." else "."
    return None
