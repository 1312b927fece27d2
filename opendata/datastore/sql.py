"""The datastore's tables in SQL, on SQLite and on PostgreSQL: create, fill fast, index, drop.

A table has ``_id`` (the row's number in the file, from 1) and one column per
file column, named ``c1``, ``c2``… rather than after the header: headers are
free Vietnamese text, longer than PostgreSQL's 63-byte names allow, and the
column ids the API speaks (``fields[].id``) map to these names in
``DatastoreTable.fields``. Nothing a user writes ever becomes SQL text: values
are bound parameters and names come from this module.

Full-text search folds diacritics on both sides so ``da lat`` finds ``Đà Lạt``:
on SQLite an FTS5 index (``unicode61`` strips the marks, ``đ`` is replaced first,
as it has none to strip); on PostgreSQL a ``tsvector`` column of folded words
written by the loader itself, with a GIN index.
"""

from __future__ import annotations

import re
import time
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from opendata.text import fold_fast

TABLE_PREFIX = "ds_"
ID = "_id"
# Text columns of identifiers (codes, e-mail addresses, URLs) are kept out of the full-text
# index: they are found by their exact value, which their column's own index answers.
CODE = "code"
WORDS, EXACT = "words", "exact"  # how ``q`` finds a text column (``DatastoreTable.fields[].search``)
FULL_TEXT = "_full_text"  # PostgreSQL: the folded words of a row's text columns
_WORDS = re.compile(r"\w+")
# ASCII letters and digits stay, every other byte becomes a space.
_WORD_BYTES = bytes(byte if chr(byte).isascii() and chr(byte).isalnum() else 0x20 for byte in range(256))
_MAX_WORD = 200
_LONG_WORD = re.compile(rf"\w{{{_MAX_WORD},}}")
_MAX_INDEXED_TEXT = 100_000
INDEXED_COLUMNS = 40  # wider tables get indexes on their first columns only
INDEX_MIN_ROWS = 2_000  # below this a scan is as fast as an index
_NAME = re.compile(r"^(ds_[0-9a-f]{32}_[0-9a-f]{1,8}|c[0-9]{1,5}|_id)$")


def quote(name: str) -> str:
    """Quote a name this module made; anything else is a bug, never user input."""
    if not _NAME.match(name):
        raise ValueError(f"not a datastore name: {name!r}")
    return f'"{name}"'


def column_name(position: int) -> str:
    return f"c{position}"


def words(value: str) -> list[str]:
    """The folded words of a text: what full-text search indexes and looks for."""
    return _WORDS.findall(fold_fast(value))


def tsvector_text(value: str) -> str:
    """A row's folded words separated by spaces: valid ``tsvector`` input as it stands.

    Folding by decomposing and keeping ASCII is four times faster than ``fold``
    and gives the same words for Vietnamese (and every Latin script); letters of
    other scripts are left out of the PostgreSQL index, on both sides of a search.
    PostgreSQL refuses words over 2 KB and vectors over 1 MB: no search term is that long.
    """
    folded = (unicodedata.normalize("NFD", value[:_MAX_INDEXED_TEXT].lower().replace("đ", "d"))
              .encode("ascii", "ignore").translate(_WORD_BYTES).decode("ascii"))
    return _LONG_WORD.sub("", folded) if len(folded) > _MAX_WORD else folded


class Backend(ABC):
    """The SQL of one database for the datastore's tables."""

    types: dict[str, str]

    def __init__(self, connection: Connection):
        self.connection = connection

    def create(self, table: str, columns: Sequence[tuple[str, str]]) -> None:
        """Create ``table`` with ``_id`` and ``columns`` (physical name, Table Schema type or ``CODE``),
        and its full-text index over the ``string`` columns."""
        defs = ", ".join(f"{quote(name)} {self.types.get(kind, 'TEXT')}" for name, kind in columns)
        self.connection.exec_driver_sql(f"CREATE TABLE {quote(table)} ({self.id_column}, {defs}"
                                        f"{self.full_text_column(columns)})")

    id_column = f"{ID} BIGINT NOT NULL"

    def full_text_column(self, columns: Sequence[tuple[str, str]]) -> str:
        return ""

    @abstractmethod
    def write(self, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[list[Any]]) -> None:
        """Append ``rows`` (one parsed value per column); ``_id`` numbers them in order, from 1."""

    def finish(self, table: str, columns: Sequence[tuple[str, str]]) -> None:
        """After the last row: what the table needs before it serves rows."""

    def index_columns(self, table: str, columns: Sequence[tuple[str, str]], rows: int) -> None:
        """An index per column, so filters and sorts on any column stay fast; built once rows are served."""
        run = self.connection.exec_driver_sql
        if rows >= INDEX_MIN_ROWS:
            for name, _ in columns[:INDEXED_COLUMNS]:
                run(f"CREATE INDEX {quote(table)[:-1]}_{name}\" ON {quote(table)} ({quote(name)})")
                self.connection.commit()  # one at a time: SQLite's other writers wait for one index, not all
        run(f"ANALYZE {quote(table)}")
        self.connection.commit()

    def drop(self, table: str) -> None:
        self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(table)}")

    @abstractmethod
    def full_text_match(self, table: str, query: str) -> tuple[str, dict[str, Any]] | None:
        """A condition on ``_id`` for rows matching every word of ``query``; None when it has no words."""

    ordered_full_text = False  # whether the backend has ``ordered_matches`` (see SqliteBackend)
    steers_plans = False  # whether row queries help the planner choose an index (``query._steer``)

    def order_term(self, column: str, descending: bool) -> str:
        """``column`` in an ORDER BY, NULLs last either way."""
        return f"{column} {'DESC' if descending else 'ASC'} NULLS LAST"

    def set_time_limit(self, seconds: float) -> None:
        """Make queries on this connection give up after ``seconds`` (see ``query.py``)."""

    def clear_time_limit(self) -> None:
        """Before the connection goes back to the pool."""

    def set_lock_timeout(self, seconds: float) -> None:
        """Give up (OperationalError) rather than wait longer for a table another connection reads."""


class SqliteBackend(Backend):
    types = {"integer": "INTEGER", "number": "REAL", "date": "TEXT", "datetime": "TEXT",
             "boolean": "INTEGER", "string": "TEXT", CODE: "TEXT"}

    id_column = f"{ID} INTEGER PRIMARY KEY"  # the rowid itself: no index to maintain

    def write(self, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[list[Any]]) -> None:
        names = ", ".join(quote(name) for name, _ in columns)
        marks = ", ".join("?" * len(columns))
        cursor = self.connection.connection.driver_connection.cursor()
        try:
            # Rows come in file order into a new table: SQLite numbers them 1, 2, 3… itself.
            cursor.executemany(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", rows)
        finally:
            cursor.close()

    def finish(self, table: str, columns: Sequence[tuple[str, str]]) -> None:
        text_columns = [name for name, kind in columns if kind == "string"]
        if not text_columns:
            return
        run = self.connection.exec_driver_sql
        # Contentless and without positions: the index keeps only words and row ids, as search
        # asks for rows holding every word. SQLite folds the words itself, all but đ, which has
        # no mark to strip. One pass over the finished table is faster than one per batch.
        run(f"CREATE VIRTUAL TABLE {_fts(table)} USING fts5(t, content='', detail=none, columnsize=0, "
            "tokenize='unicode61 remove_diacritics 2')")
        joined = " || ' ' || ".join(f"coalesce({quote(name)}, '')" for name in text_columns)
        run(f"INSERT INTO {_fts(table)} (rowid, t) SELECT {ID}, replace(replace({joined}, 'đ', 'd'), 'Đ', 'D') "
            f"FROM {quote(table)}")

    def index_columns(self, table: str, columns: Sequence[tuple[str, str]], rows: int) -> None:
        self.connection.exec_driver_sql("PRAGMA analysis_limit = 1000")  # sample the indexes, don't read them whole
        super().index_columns(table, columns, rows)

    def drop(self, table: str) -> None:
        super().drop(table)
        self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {_fts(table)}")

    def full_text_match(self, table: str, query: str) -> tuple[str, dict[str, Any]] | None:
        terms = words(query)
        if not terms:
            return None
        fts = _fts(table)
        match = " ".join(f'"{term}"' for term in terms)  # words are \w+: no quote can be inside
        return f"{ID} IN (SELECT rowid FROM {fts} WHERE {fts} MATCH :_fts)", {"_fts": match}

    ordered_full_text = True
    steers_plans = True

    def order_term(self, column: str, descending: bool) -> str:
        # SQLite puts NULLs first ascending and so last descending: saying nothing when that is
        # already the order lets an index walked backwards give it.
        return f"{column} DESC" if descending else f"{column} ASC NULLS LAST"

    def ordered_matches(self, table: str, codes: Sequence[str], after: str | None,
                        first: int | None) -> tuple[str, str]:
        """For a search alone: a condition on ``_id`` taking the first matches in row order, and a count.

        FTS5 yields matches in rowid order, so the first ``first`` of them cost no sort.
        """
        fts, rows = _fts(table), quote(table)
        limit = " LIMIT :_first" if first is not None else ""
        words = (f"SELECT rowid FROM {fts} WHERE {fts} MATCH :_fts{f' AND rowid > :{after}' if after else ''} "
                 f"ORDER BY rowid{limit}")
        exact = " OR ".join(f"{quote(name)} = :_q" for name in codes)
        parts = [f"SELECT rowid FROM ({words})"]
        count = f"SELECT (SELECT count(*) FROM {fts} WHERE {fts} MATCH :_fts)"
        if exact:
            parts.append(f"SELECT {ID} FROM (SELECT {ID} FROM {rows} WHERE ({exact})"
                         f"{f' AND {ID} > :{after}' if after else ''} ORDER BY {ID}{limit})")
            # Identifier matches that the words did not already find.
            count += (f" + (SELECT count(*) FROM {rows} AS r WHERE ({exact}) AND NOT EXISTS "
                      f"(SELECT 1 FROM {fts} WHERE {fts} MATCH :_fts AND rowid = r.{ID}))")
        return f"{ID} IN ({' UNION '.join(parts)})", count

    def set_time_limit(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        raw = self.connection.connection.driver_connection
        # SQLite calls this every N virtual-machine steps; a true answer interrupts the query.
        raw.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)

    def clear_time_limit(self) -> None:
        self.connection.connection.driver_connection.set_progress_handler(None, 0)


class PostgresBackend(Backend):
    types = {"integer": "BIGINT", "number": "DOUBLE PRECISION", "date": "DATE", "datetime": "TIMESTAMP",
             "boolean": "BOOLEAN", "string": "TEXT", CODE: "TEXT"}
    id_column = f"{ID} BIGINT GENERATED ALWAYS AS IDENTITY"  # numbered in COPY order; the key comes after

    def full_text_column(self, columns: Sequence[tuple[str, str]]) -> str:
        return f", {FULL_TEXT} TSVECTOR" if any(kind == "string" for _, kind in columns) else ""

    def write(self, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[list[Any]]) -> None:
        text_positions = [i for i, (_, kind) in enumerate(columns) if kind == "string"]
        names = ", ".join([*(quote(name) for name, _ in columns), *([FULL_TEXT] if text_positions else [])])
        cursor = self.connection.connection.driver_connection.cursor()
        try:
            with cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    if text_positions:
                        # Folded words separated by spaces are tsvector text as they stand:
                        # the server has nothing to parse, and searches fold the same way.
                        row.append(tsvector_text(" ".join([row[i] for i in text_positions if row[i]])))
                    copy.write_row(row)
        finally:
            cursor.close()

    def create(self, table: str, columns: Sequence[tuple[str, str]]) -> None:
        super().create(table, columns)
        if any(kind == "string" for _, kind in columns):
            # Built as the rows arrive, so the server indexes while the loader parses: new
            # entries gather in a pending list and are merged into the index in bulk.
            self.connection.exec_driver_sql(
                f"CREATE INDEX {_fts(table)} ON {quote(table)} USING gin ({FULL_TEXT}) "
                "WITH (fastupdate = on, gin_pending_list_limit = 65536)")

    def finish(self, table: str, columns: Sequence[tuple[str, str]]) -> None:
        run = self.connection.exec_driver_sql
        run(f"ALTER TABLE {quote(table)} ADD PRIMARY KEY ({ID})")
        index = _fts(table)
        if run(f"SELECT to_regclass('{index}')").scalar() is not None:
            run(f"SELECT gin_clean_pending_list('{index}'::regclass)")  # merged now, not by the first search

    def full_text_match(self, table: str, query: str) -> tuple[str, dict[str, Any]] | None:
        terms = tsvector_text(query).split()
        if not terms:
            return None
        # A tsquery of the folded words, written as the loader wrote the rows' words.
        return f"{FULL_TEXT} @@ CAST(:_fts AS tsquery)", {"_fts": " & ".join(f"'{term}'" for term in terms)}

    def set_time_limit(self, seconds: float) -> None:
        self.connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")

    def set_lock_timeout(self, seconds: float) -> None:
        self.connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(seconds * 1000)}")


def _fts(table: str) -> str:
    """The table's full-text index (SQLite: an FTS5 table; PostgreSQL: a GIN index), quoted."""
    return quote(table)[:-1] + '_fts"'


def sql_types(dialect: str) -> dict[str, str]:
    """The column type each Table Schema type is stored as (``datastore_info``'s ``native_type``)."""
    return (PostgresBackend if dialect == "postgresql" else SqliteBackend).types


def backend_for(connection: Connection) -> Backend:
    return PostgresBackend(connection) if connection.dialect.name == "postgresql" else SqliteBackend(connection)


def storage_value(kind: str, dialect: str):
    """How a parsed value of type ``kind`` is written: SQLite keeps dates as ISO text and booleans as 0/1."""
    if dialect != "sqlite":
        return None
    if kind in ("date", "datetime"):
        return _iso
    if kind == "boolean":
        return _bit
    return None


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _bit(value: bool | None) -> int | None:
    return None if value is None else int(value)


def existing_tables(connection: Connection) -> Iterable[str]:
    """Every datastore table in the database (for tests and for sweeping orphans)."""
    if connection.dialect.name == "postgresql":
        query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'ds\\_%'"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ds\\_%' ESCAPE '\\'"
    names = [row[0] for row in connection.execute(text(query))]
    return [name for name in names if _NAME.match(name)]


def drop_all(connection: Connection) -> None:
    """Drop every datastore table (tests start each case with an empty database)."""
    backend = backend_for(connection)
    for name in list(existing_tables(connection)):
        backend.drop(name)
