"""Query a resource's rows: filters, full text, sort, fields, paging by offset or cursor, totals.

Every entry point (the REST row API, CKAN's ``datastore_search``, the conversions)
builds a ``RowQuery`` and opens it with ``open_rows``. Column ids are the file's
headers as written; they are checked against the table's fields and mapped to
its physical columns, and every value is a bound parameter: no text from a
request becomes SQL. Each query runs under a time limit (``DATASTORE_QUERY_SECONDS``)
so a costly request cannot hold a worker.

Rows stream: ``RowResult.records()`` fetches in batches from an open cursor (a
server-side one on PostgreSQL), so a million-row CSV export never sits in memory.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from opendata.datastore.models import DatastoreTable
from opendata.datastore.sql import EXACT, ID, INDEXED_COLUMNS, WORDS, backend_for, quote, storage_value
from opendata.datastore.types import CellError, parser_for
from opendata.errors import AppError
from opendata.extensions import db

FETCH_ROWS = 1_000
STEER_MIN_MATCHES = 4_000  # below this, sorting the matches is as fast as walking an index (see ``_steer``)
RANGE_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_TYPE_NAMES = {"integer": "số nguyên", "number": "số", "date": "ngày (yyyy-mm-dd hoặc dd/mm/yyyy)",
               "datetime": "ngày giờ", "boolean": "true/false", "string": "văn bản"}


class RowQueryError(AppError):
    """A row query that names an unknown column, or gives a value its column cannot hold."""

    status = 400
    code = "bad_row_query"
    message = "Truy vấn dòng dữ liệu không hợp lệ."

    def __init__(self, message: str, parameter: str):
        super().__init__(message, fields={parameter: [message]})
        self.parameter = parameter


class QueryTimeout(AppError):
    status = 503
    code = "query_timeout"
    message = "Truy vấn chạy quá lâu nên đã bị dừng; hãy thu hẹp điều kiện lọc hoặc bỏ sắp xếp."


class TableReplaced(AppError):
    """The table was replaced by a newer load between finding it and reading it."""

    status = 503
    code = "table_replaced"
    message = "Bảng vừa được nạp lại; hãy thử lại."


@dataclass
class RowQuery:
    filters: Mapping[str, Any] = field(default_factory=dict)
    q: str | None = None
    sort: Sequence[tuple[str, bool]] = ()  # (column id, descending)
    fields: Sequence[str] | None = None
    limit: int | None = 100
    offset: int = 0
    cursor: str | None = None
    include_total: bool = True


def parse_sort(value: str | Sequence[str] | None, known: Sequence[str] = ()) -> list[tuple[str, bool]]:
    """``"Năm desc, Tên"`` (CKAN's form) or a list of such parts, into (column id, descending) pairs.

    A part that is a column of ``known`` (with or without a direction) is not split at its
    commas: headers such as ``Dân số, nghìn người`` have them.
    """
    if not value:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    pairs = []
    for part in parts:
        part = part.strip()
        name, _, direction = part.rpartition(" ")
        if part in known or (direction.lower() in ("asc", "desc") and name.strip() in known):
            items = [part]
        else:
            items = _split_names(part)
        for item in items:
            name, _, direction = item.rpartition(" ")
            if direction.lower() in ("asc", "desc") and name.strip():
                pairs.append((name.strip(), direction.lower() == "desc"))
            else:
                pairs.append((item, False))
    return pairs


def _split_names(value: str) -> list[str]:
    # Headers may hold commas, so "a, b" is split only where the pieces are not one name
    # (the caller checks names); JSON lists avoid the question altogether.
    value = value.strip()
    if value.startswith("["):
        try:
            return [str(item).strip() for item in json.loads(value)]
        except ValueError:
            pass
    return [item.strip() for item in value.split(",") if item.strip()]


def split_fields(value: str | Sequence[str] | None, known: Sequence[str]) -> list[str] | None:
    """``fields`` given as repeated parameters, a JSON list or CKAN's comma-separated text."""
    if value is None or value == "" or value == []:
        return None
    parts = [value] if isinstance(value, str) else list(value)
    names = []
    for part in parts:
        names.extend([part] if part in known else _split_names(part))
    return names


ROW_ID = {"id": ID, "column": ID, "type": "integer", "ckan_type": "int"}  # sortable and filterable, as in CKAN
INT64 = 2**63  # what both databases' integers hold


class _Columns:
    def __init__(self, record: DatastoreTable):
        self.by_id = {ID: ROW_ID, **{column["id"]: column for column in record.fields}}

    def get(self, name: str, parameter: str) -> dict[str, Any]:
        column = self.by_id.get(name)
        if column is None:
            known = ", ".join(f"«{key}»" for key in self.by_id if key != ID)
            raise RowQueryError(f"Không có cột «{name}». Các cột: {known}.", parameter)
        return column


def coerce(value: Any, column: Mapping[str, Any], dialect: str, parameter: str = "filters") -> Any:
    """A filter or cursor value as the column stores it; plain forms (``2020``, ``2020-05-01``) or Vietnamese ones."""
    kind = column["type"]
    field_spec = {"name": column["id"], "type": kind, **column.get("parse", {})}
    try:
        parsed = _plain(value, kind)
        if parsed is None:
            parsed = parser_for(field_spec)(value)
    except (CellError, ValueError, TypeError):
        parsed = None
    if parsed is None or (isinstance(parsed, int) and not isinstance(parsed, bool) and not -INT64 <= parsed < INT64):
        raise RowQueryError(f"Giá trị «{value}» không hợp lệ cho cột «{column['id']}» "
                            f"({_TYPE_NAMES.get(kind, kind)}).", parameter)
    store = storage_value(kind, dialect)
    return store(parsed) if store else parsed


def _plain(value: Any, kind: str) -> Any:
    if isinstance(value, bool):
        return value if kind == "boolean" else None
    if kind == "integer":
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif kind == "number":
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return None
    elif kind == "date" and isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    elif kind == "datetime" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    elif kind == "boolean" and isinstance(value, (str, int)):
        return {"true": True, "false": False, "1": True, "0": False}.get(str(value).strip().lower())
    elif kind not in ("integer", "number", "date", "datetime", "boolean"):
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return None


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise RowQueryError("Con trỏ phân trang (cursor) không hợp lệ.", "cursor") from None
    if not isinstance(values, list):
        raise RowQueryError("Con trỏ phân trang (cursor) không hợp lệ.", "cursor")
    return values


def _output(kind: str) -> Callable[[Any], Any] | None:
    if kind == "boolean":
        return lambda value: None if value is None else bool(value)
    if kind in ("date", "datetime"):
        return lambda value: value.isoformat() if isinstance(value, (date, datetime)) else value
    if kind == "number":
        return lambda value: None if value is None else float(value)
    return None


class RowResult:
    """An open query: ``fields``, ``total``, then ``records()`` streamed once; ``next_cursor`` after them."""

    def __init__(self, record: DatastoreTable, query: RowQuery):
        self.record, self.query = record, query
        self._connection = None
        self._backend = None
        self._first: list = []
        self.next_cursor: str | None = None
        self.total: int | None = None
        self.returned = 0
        self._prepare()

    def _prepare(self) -> None:
        record, query = self.record, self.query
        columns = _Columns(record)
        named = [columns.get(name, "fields") for name in query.fields] if query.fields is not None else None
        # ``_id`` comes first in every row unless ``fields`` names columns without it (as in CKAN).
        self.with_id = named is None or ROW_ID in named
        self.columns = [column for column in named if column is not ROW_ID] if named is not None \
            else list(record.fields)
        self.fields = [{"id": column["id"], "type": column["ckan_type"]} for column in self.columns]
        sort = [(columns.get(name, "sort"), descending) for name, descending in query.sort]
        connection = db.engine.connect()
        self._connection = connection
        try:
            dialect = connection.dialect.name
            backend = backend_for(connection)
            table = quote(record.table_name)
            backend.set_time_limit(current_app.config["DATASTORE_QUERY_SECONDS"])
            self._backend = backend
            shortcut = self._search_only(backend, sort)
            if shortcut is not None:
                where, params, count = shortcut
            else:
                where, params = self._where(columns, backend, dialect)
                count = f"SELECT count(*) FROM {table}{_and(where)}" if where else None
            if query.include_total:
                self.total = connection.execute(text(count), params).scalar() if count else record.rows
            if shortcut is None and backend.steers_plans:
                where = self._steer(where, sort, connection, count, params)
            if query.cursor and shortcut is None:
                where = where + [self._after(sort, decode_cursor(query.cursor), dialect, params)]
            # Ties go in the direction of the last key, so that one index gives the whole order.
            last_descending = bool(sort) and sort[-1][1]
            order = [backend.order_term(quote(column["column"]), descending) for column, descending in sort] \
                + [f"{ID} {'DESC' if last_descending else 'ASC'}"]
            self._sort = sort
            shown = [quote(column["column"]) for column in self.columns]
            extra = [quote(column["column"]) for column, _ in sort]
            sql = (f"SELECT {', '.join([ID, *shown, *extra])} FROM {table}{_and(where)} "
                   f"ORDER BY {', '.join(order)}")
            if query.limit is not None:
                sql += " LIMIT :_limit"
                params["_limit"] = query.limit
            if query.offset and not query.cursor:
                unlimited = query.limit is None and dialect == "sqlite"  # SQLite has no OFFSET without LIMIT
                sql += " LIMIT -1 OFFSET :_offset" if unlimited else " OFFSET :_offset"
                params["_offset"] = query.offset
            options = {"stream_results": True} if dialect == "postgresql" else {}
            self._result = connection.execution_options(**options).execute(text(sql), params)
            # The costly part (a scan, a sort) is behind the first batch: fetched here, a time-out or
            # an error is answered as such, before a streamed response has sent its status.
            self._first = self._result.fetchmany(FETCH_ROWS)
            backend.clear_time_limit()  # then a long export may take its time
        except (OperationalError, ProgrammingError) as error:
            self.close()
            if _timed_out(error):
                raise QueryTimeout() from error
            if _table_gone(error):
                raise TableReplaced() from error
            raise
        except BaseException:
            self.close()
            raise

    def _where(self, columns: _Columns, backend, dialect: str) -> tuple[list[str], dict[str, Any]]:
        where: list[str] = []
        params: dict[str, Any] = {}
        if self.query.q and self.query.q.strip():
            where.append(self._full_text(backend, params))
        for number, (name, value) in enumerate(self.query.filters.items()):
            column = columns.get(name, "filters")
            physical = quote(column["column"])
            key = f"f{number}"
            if value is None:
                where.append(f"{physical} IS NULL")
            elif isinstance(value, list):
                if not value:
                    where.append("1 = 0")
                    continue
                marks = []
                for index, item in enumerate(value):
                    params[f"{key}_{index}"] = coerce(item, column, dialect)
                    marks.append(f":{key}_{index}")
                where.append(f"{physical} IN ({', '.join(marks)})")
            elif isinstance(value, dict):
                if not value or set(value) - set(RANGE_OPERATORS):
                    raise RowQueryError(f"Điều kiện khoảng của cột «{name}» chỉ dùng gt, gte, lt, lte.", "filters")
                for operator, bound in value.items():
                    params[f"{key}_{operator}"] = coerce(bound, column, dialect)
                    where.append(f"{physical} {RANGE_OPERATORS[operator]} :{key}_{operator}")
            else:
                params[key] = coerce(value, column, dialect)
                where.append(f"{physical} = :{key}")
        return where, params

    def _search_only(self, backend, sort) -> tuple[list[str], dict[str, Any], str] | None:
        """A ``q`` alone, in file order (the preview's search box): answered from the full-text index.

        Written in general form (the rows whose id is among the matches, sorted) the
        database collects and sorts every match, hundreds of thousands for a common
        word, to return one page. The index lists matches in row order already, so
        the first ``offset + limit`` of them (and of the exact matches on identifier
        columns) are all the page needs; the total is counted in the index too.
        """
        query, record = self.query, self.record
        if not (query.q and query.q.strip()) or query.filters or sort or not backend.ordered_full_text:
            return None
        if not any(column.get("search") == WORDS for column in record.fields):
            return None
        match = backend.full_text_match(record.table_name, query.q)
        if match is None:
            return None
        params: dict[str, Any] = {**match[1], "_q": query.q.strip()}
        after = None
        if query.cursor:
            values = decode_cursor(query.cursor)
            if len(values) != 1 or not isinstance(values[0], int) or not 0 <= values[0] < INT64:
                raise RowQueryError("Con trỏ phân trang (cursor) không khớp với cách sắp xếp.", "cursor")
            params["_after"], after = values[0], "_after"
        codes = [column["column"] for column in record.fields if column.get("search") == EXACT]
        first = query.limit + (0 if query.cursor else query.offset) if query.limit is not None else None
        ids, count = backend.ordered_matches(record.table_name, codes, after, first)
        if first is not None:
            params["_first"] = first
        return [ids], params, count

    def _full_text(self, backend, params: dict[str, Any]) -> str:
        """Rows holding every word of ``q`` in their text, or whose identifier column is ``q`` exactly."""
        q = self.query.q.strip()
        either = []
        if any(column.get("search") == WORDS for column in self.record.fields):
            match = backend.full_text_match(self.record.table_name, q)
            if match is not None:
                either.append(match[0])
                params.update(match[1])
        codes = [column for column in self.record.fields if column.get("search") == EXACT]
        if codes:
            params["_q"] = q
            either += [f"{quote(column['column'])} = :_q" for column in codes]
        return f"({' OR '.join(either)})" if either else "1 = 0"

    def _steer(self, where: list[str], sort, connection, count: str | None, params: dict[str, Any]) -> list[str]:
        """On SQLite, the top rows of a frequent value by a descending sort: walk the sort's index.

        SQLite (without STAT4) always takes the filtered column's index, then sorts every
        match: a hundred thousand rows for a frequent value, to return a page. Walking the
        sort column's index instead finds a page of a frequent value within a few hundred
        rows; for a rare value the filter's index stays better. The match count decides,
        and a unary ``+`` keeps the planner off the filter's index.
        """
        filters = self.query.filters
        if len(filters) != 1 or not sort or not sort[0][1] or not self._indexed(sort[0][0]):
            return where
        name, value = next(iter(filters.items()))
        if isinstance(value, (list, dict)) or value is None or name == sort[0][0]["id"]:
            return where
        matches = self.total if self.total is not None else connection.execute(text(count), params).scalar()
        if matches < max(STEER_MIN_MATCHES, (self.record.rows or 0) // 100):
            return where
        physical = quote(_Columns(self.record).get(name, "filters")["column"])
        return [f"+{condition}" if condition.startswith(f"{physical} = ") else condition for condition in where]

    def _indexed(self, column: Mapping[str, Any]) -> bool:
        stats = (self.record.report or {}).get("stats") or {}
        positions = {field["id"]: index for index, field in enumerate(self.record.fields)}
        return "seconds_indexes" in stats and positions.get(column["id"], INDEXED_COLUMNS) < INDEXED_COLUMNS

    def _after(self, sort, values: list[Any], dialect: str, params: dict[str, Any]) -> str:
        """Rows after the cursor's row in ``ORDER BY sort…, _id`` order, NULLs last (keyset paging)."""
        if len(values) != len(sort) + 1 or not isinstance(values[-1], int) or not 0 <= values[-1] < INT64:
            raise RowQueryError("Con trỏ phân trang (cursor) không khớp với cách sắp xếp.", "cursor")
        params["_c_id"] = values[-1]
        condition = f"{ID} {'<' if sort and sort[-1][1] else '>'} :_c_id"
        for index in range(len(sort) - 1, -1, -1):  # innermost key first
            column, descending = sort[index]
            physical = quote(column["column"])
            value = values[index]
            if value is None:
                condition = f"({physical} IS NULL AND {condition})"
                continue
            params[f"_c{index}"] = coerce(value, column, dialect, "cursor")
            beyond = f"{physical} {'<' if descending else '>'} :_c{index}"
            condition = f"({beyond} OR {physical} IS NULL OR ({physical} = :_c{index} AND {condition}))"
        return condition

    def records(self) -> Iterator[dict[str, Any]]:
        """The rows as dicts keyed by column id (``_id`` first); closes the query when done."""
        names = [ID, *(column["id"] for column in self.columns)]
        converters = [(index, convert) for index, column in enumerate(self.columns, start=1)
                      if (convert := _output(column["type"]))]
        sort_positions = range(len(names), len(names) + len(self._sort))
        sort_out = [_output(column["type"]) for column, _ in self._sort]
        last = None
        rows, self._first = self._first, []
        try:
            while rows:
                for row in rows:
                    values = list(row)
                    for index, convert in converters:
                        values[index] = convert(values[index])
                    last = row
                    self.returned += 1
                    record = dict(zip(names, values))
                    if not self.with_id:
                        del record[ID]
                    yield record
                rows = self._result.fetchmany(FETCH_ROWS)
        except OperationalError as error:
            if _timed_out(error):
                raise QueryTimeout() from error
            raise
        finally:
            self.close()
        if last is not None and self.query.limit is not None and self.returned == self.query.limit:
            keys = [convert(last[i]) if convert else last[i] for i, convert in zip(sort_positions, sort_out)]
            self.next_cursor = encode_cursor([*keys, last[0]])

    def rows(self) -> Iterator[list[Any]]:
        """The rows as lists in ``fields`` order (without ``_id``), for CSV and XLSX."""
        skip = 1 if self.with_id else 0
        for record in self.records():
            yield list(record.values())[skip:]

    def close(self) -> None:
        if self._connection is not None:
            try:
                if self._backend is not None:
                    self._backend.clear_time_limit()  # the connection goes back to the pool
                self._connection.close()
            finally:
                self._connection = None


def _and(where: list[str]) -> str:
    return f" WHERE {' AND '.join(where)}" if where else ""


def _table_gone(error: Exception) -> bool:
    message = str(getattr(error, "orig", error)).lower()
    return "no such table" in message or "does not exist" in message


def _timed_out(error: OperationalError) -> bool:
    message = str(error.orig).lower()
    return "interrupted" in message or "statement timeout" in message or "canceling statement" in message


def open_rows(record: DatastoreTable, query: RowQuery) -> RowResult:
    """Run ``query`` on a loaded table; the caller streams ``records()`` (which closes it) or calls ``close``."""
    return RowResult(record, query)
