"""Load a tabular resource into a table of its own, in the background.

``start_load`` runs after an upload, a replacement or a changed column type: it
marks the resource's table as pending and queues ``datastore_load`` (huey; see
``opendata.tasks``). The job streams the file through the reader (legacy
encodings decoded, delimiter sniffed, title rows skipped), infers the column types
from the first rows (``types.infer_schema``) with the publisher's choices on top
(``dictionary``), parses every cell, and writes the rows in batches: SQLite's
``executemany``, PostgreSQL's ``COPY``. Each batch commits with the progress, so
the resource page can show it and other writers never wait long. The full-text
index follows, then the table serves its rows, then an index on each column is built.

A cell its column's type cannot hold is stored as NULL and reported (the
validation report, in Frictionless' shape); a file that cannot be read at all
fails with the reader's message and line. Either way the file itself stays
downloadable. The rows go into a new table that replaces the old one only once
complete: readers never see half a load, and a load overtaken by a newer one
(the file was replaced meanwhile) throws its table away.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from itertools import chain, islice
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from opendata.catalog.models import Resource, utcnow
from opendata.datastore import dictionary
from opendata.datastore.models import DONE, FAILED, PENDING, RUNNING, DatastoreTable
from opendata.datastore.reader import TableError, open_table
from opendata.datastore.sql import CODE, EXACT, WORDS, backend_for, column_name, existing_tables, storage_value
from opendata.datastore.types import SAMPLE_ROWS, CellError, ckan_type, infer_schema, parser_for
from opendata.extensions import db
from opendata.privacy.gate import content_format
from opendata.storage.files import file_store
from opendata.tasks import enqueue, job

log = logging.getLogger(__name__)

LOADABLE_FORMATS = frozenset({"CSV", "TSV", "XLSX", "JSON"})
BATCH_ROWS = 20_000  # rows per commit: the page shows progress, other writers get their turn
REPORTED_ERRORS = 100  # cell errors listed one by one; all are counted
DROP_WAIT_SECONDS = 10  # a replaced table still streaming a download is dropped later, by ``sweep``
MEMO_SIZE = 100_000  # distinct values remembered per column
IDENTIFIER_MIN_SAMPLE = 20  # fewer values than this cannot show a column to be identifiers


def loadable(resource: Resource) -> bool:
    return resource.is_upload and content_format(resource) in LOADABLE_FORMATS


def table_of(resource: Resource) -> DatastoreTable | None:
    return db.session.get(DatastoreTable, resource.id)


def start_load(resource: Resource) -> None:
    """Queue the load of a just-committed file (or of its retyped columns); a file that is no table drops its table."""
    record = table_of(resource)
    if not loadable(resource):
        if record is not None:
            drop_table(resource)
        return
    if record is None:
        record = DatastoreTable(resource_id=resource.id, fields=[])
        db.session.add(record)
    record.status, record.sha256, record.queued_at, record.started_at = PENDING, resource.sha256, utcnow(), None
    record.loading_rows, record.progress = 0, 0.0
    db.session.commit()
    enqueue("datastore_load", resource_id=resource.id, sha256=resource.sha256)


def reload_stale(older_than: timedelta = timedelta(minutes=30)) -> int:
    """Queue the load of every tabular upload without a current table: files from before an upgrade,
    replaced files whose job was lost, loads stuck for longer than ``older_than``. Returns how many.

    Run by ``opendata datastore reload`` (and by ``make serve``).
    """
    stale = []
    for resource in db.session.scalars(select(Resource).where(Resource.storage_key.is_not(None))):
        if not loadable(resource):
            continue
        record = table_of(resource)
        since = (record.started_at if record.status == RUNNING else record.queued_at) if record else None
        if (record is None or record.sha256 != resource.sha256
                or record.busy and (since is None or since < utcnow() - older_than)):
            stale.append(resource)
    for resource in stale:
        start_load(resource)
    return len(stale)


@job("datastore_load")
def run_load(resource_id: str, sha256: str) -> None:
    """The background job: load the file unless it was replaced since it was queued."""
    resource = db.session.get(Resource, resource_id)
    if resource is None or resource.sha256 != sha256 or not loadable(resource):
        return
    load_table(resource_id)


def load_table(resource_id: str) -> DatastoreTable | None:
    """Load a resource's file into a new table now, and make it the one that serves rows.

    Returns the table's record; None when the resource was deleted during the load.
    """
    resource = db.session.get(Resource, resource_id)
    if resource is None or not loadable(resource):
        raise ValueError(f"resource {resource_id} is not a tabular upload")
    record = table_of(resource) or DatastoreTable(resource_id=resource_id, fields=[])
    loading = f"ds_{uuid.UUID(resource.id).hex}_{uuid.uuid4().hex[:8]}"
    record.status, record.loading_table, record.sha256 = RUNNING, loading, resource.sha256
    record.loading_rows, record.progress, record.started_at, record.finished_at = 0, 0.0, utcnow(), None
    db.session.add(record)
    db.session.commit()
    try:
        loaded = _Load(resource, loading).run()
    except TableError as error:
        _discard(loading)
        return _finish(record, loading, FAILED, report={"valid": False, "error": {"message": str(error),
                                                                                 "line": error.line}})
    except Exception:  # noqa: BLE001 - any failure must end as a report, never as a load stuck "running"
        log.exception("datastore load of resource %s failed", resource_id)
        _discard(loading)
        return _finish(record, loading, FAILED, report={"valid": False, "error": {
            "message": "Lỗi không mong muốn khi nạp bảng; quản trị viên đã được ghi nhận lỗi.", "line": None}})
    record = _finish(record, loading, DONE, loaded=loaded)
    if record is not None and record.table_name == loading:
        _index(record, loaded)
    return record


def _finish(record: DatastoreTable, loading: str, status: str, *, report: dict | None = None,
            loaded: _Load | None = None) -> DatastoreTable | None:
    """Make this load's outcome the record's, unless a newer load, a replaced file or a deletion overtook it.

    The claim is one conditional UPDATE (``WHERE loading_table = <this load's table>``),
    so of two loads finishing at once only the one the record names wins; the other
    throws its table away, as does a load whose resource was deleted meanwhile.
    """
    resource_id, sha256 = record.resource_id, record.sha256
    db.session.expire_all()  # what others committed while the file was read
    resource = db.session.get(Resource, resource_id)
    current = db.session.get(DatastoreTable, resource_id)
    if current is None or resource is None or resource.sha256 != sha256:
        _discard(loading)  # deleted, or replaced by another file whose own load will finish
        return current
    values: dict[str, Any] = {"loading_table": None, "status": status, "finished_at": utcnow()}
    if loaded is not None:
        values.update(table_name=loading, fields=loaded.fields, report=loaded.report, rows=loaded.rows,
                      loading_rows=loaded.rows, progress=1.0)
    else:
        values["report"] = report
    old = current.table_name if loaded is not None else None
    claimed = db.session.execute(update(DatastoreTable).where(
        DatastoreTable.resource_id == resource_id, DatastoreTable.loading_table == loading).values(**values))
    if claimed.rowcount != 1:
        db.session.rollback()
        _discard(loading)  # overtaken by a newer load, which will finish on its own
        return db.session.get(DatastoreTable, resource_id)
    if loaded is not None:
        # The types just loaded, with the dictionary as the publisher has it now (they may have
        # written descriptions while the file was being read).
        resource.schema = dictionary.effective_schema(loaded.inferred, resource, types_from=loaded.schema)
        _refresh_document(resource)
    db.session.commit()
    db.session.expire_all()
    if old and old != loading:
        _discard(old)
    return db.session.get(DatastoreTable, resource_id)


def _index(record: DatastoreTable, loaded: _Load) -> None:
    """Index every column of a table that already serves rows; a newer load dropping it meanwhile ends this."""
    started = time.perf_counter()
    columns = [(column["column"], column["type"]) for column in loaded.fields]
    try:
        with db.engine.connect() as connection:
            backend_for(connection).index_columns(record.table_name, columns, loaded.rows)
    except Exception:  # noqa: BLE001 - rows are served without the indexes, only slower
        log.exception("indexing datastore table %s failed", record.table_name)
        return
    db.session.expire_all()
    record = db.session.get(DatastoreTable, loaded.resource.id)
    if record is not None and record.table_name == loaded.table:
        record.report = {**record.report, "stats": {**record.report["stats"],
                                                    "seconds_indexes": round(time.perf_counter() - started, 3)}}
        db.session.commit()


def _refresh_document(resource: Resource) -> None:
    from opendata.catalog.document import refresh_document  # the document shows the dictionary

    refresh_document(resource.dataset)


def _discard(table: str) -> None:
    """Drop a table no record serves; one still being read is left for ``sweep`` rather than waited for."""
    try:
        with db.engine.begin() as connection:
            backend = backend_for(connection)
            backend.set_lock_timeout(DROP_WAIT_SECONDS)
            backend.drop(table)
    except OperationalError:
        log.warning("datastore table %s is in use; `opendata datastore sweep` will drop it", table)


def sweep() -> list[str]:
    """Drop the tables no record names (left by a crash, or in use when they were replaced). Returns them."""
    named = {name for pair in db.session.execute(select(DatastoreTable.table_name, DatastoreTable.loading_table))
             for name in pair if name}
    with db.engine.connect() as connection:
        orphans = [name for name in existing_tables(connection) if name not in named]
    for name in orphans:
        _discard(name)
    return orphans


def release(resource: Resource) -> list[str]:
    """Delete a resource's bookkeeping in the session; returns its tables, for ``discard`` after the commit."""
    record = table_of(resource)
    if record is None:
        return []
    db.session.delete(record)
    return [name for name in (record.table_name, record.loading_table) if name]


def discard(tables: list[str]) -> None:
    for name in tables:
        _discard(name)


def drop_table(resource: Resource) -> None:
    """Forget a resource's rows: its tables and its bookkeeping (the file stays)."""
    tables = release(resource)
    db.session.commit()
    discard(tables)


class _Load:
    """One pass over a file: infer, parse, write in batches, then index."""

    def __init__(self, resource: Resource, table: str):
        self.resource, self.table = resource, table
        self.rows = 0
        self.errors: list[dict[str, Any]] = []
        self.error_counts: dict[str, int] = {}

    def run(self) -> _Load:
        resource = self.resource
        path = file_store().path(resource.storage_key)
        with open_table(path, content_format(resource), resource.encoding) as source:
            rows = source.rows()
            sample = list(islice(rows, SAMPLE_ROWS))
            self.inferred = infer_schema(source.headers, sample, decimal_hint=source.decimal_hint)
            self.schema = dictionary.effective_schema(self.inferred, resource)
            fields = self.schema["fields"]
            self.fields = [{"id": field["name"], "column": column_name(position), "type": field.get("type", "string"),
                            "ckan_type": ckan_type(field), "parse": dictionary.parse_hints(field),
                            **_search(field, [row[position - 1] for row in sample])}
                           for position, field in enumerate(fields, start=1)]
            estimate = _row_estimate(resource.size or 0, sample) if source.format in ("CSV", "TSV") else None
            self._write(chain(sample, rows), fields, estimate, sample)
            self.report = {
                "valid": not self.error_counts,
                "error": None,
                "stats": {"rows": self.rows, "fields": len(fields), "errors": sum(self.error_counts.values()),
                          "seconds": self.seconds},
                "errors": self.errors,
                "errors_by_field": self.error_counts,
                "source": {"format": source.format, "encoding": getattr(source, "encoding", None),
                           "delimiter": getattr(source, "delimiter", None), "sheet": getattr(source, "sheet", None),
                           "header_line": source.header_line,
                           "skipped": [{"line": row.line, "text": row.text} for row in source.skipped]},
            }
        return self

    def _write(self, rows: Iterator[list[Any]], fields: list[dict[str, Any]], estimate: int | None,
               sample: list[list[Any]]) -> None:
        started = time.perf_counter()
        columns = [(column["column"], CODE if column.get("search") == EXACT else column["type"])
                   for column in self.fields]
        with db.engine.connect() as connection:
            backend = backend_for(connection)
            backend.create(self.table, columns)
            connection.commit()
            convert = self._converter(fields, connection.dialect.name, sample)
            while (first := next(rows, None)) is not None:
                # Parsed while being written: the database works on one row as the loader parses the next.
                backend.write(self.table, columns, convert(chain([first], islice(rows, BATCH_ROWS - 1))))
                progress = min(0.99, self.rows / estimate) if estimate else 0.0
                connection.execute(update(DatastoreTable).where(DatastoreTable.resource_id == self.resource.id)
                                   .values(loading_rows=self.rows, progress=progress))
                connection.commit()  # each batch: the page shows progress, other writers get their turn
            backend.finish(self.table, columns)
            connection.commit()
        self.seconds = round(time.perf_counter() - started, 3)

    def _converter(self, fields: list[dict[str, Any]], dialect: str,
                   sample: list[list[Any]]) -> Callable[[Iterable[list[Any]]], Iterator[list[Any]]]:
        """A function from raw rows to rows of stored values, counting them in ``self.rows``."""
        parsers = []
        for position, field in enumerate(fields):
            parse = parser_for(field)
            store = storage_value(field.get("type", "string"), dialect)
            if store is not None:
                parse = _then(parse, store)
            if field.get("type", "string") != "string":
                parse = _memoized(parse, [row[position] for row in sample])
            parsers.append(parse)

        def convert(batch: Iterable[list[Any]]) -> Iterator[list[Any]]:
            for cells in batch:
                self.rows += 1
                try:
                    yield [parse(cell) for parse, cell in zip(parsers, cells)]
                except CellError:
                    yield self._careful(self.rows, parsers, cells, fields)

        return convert

    def _careful(self, number: int, parsers: list, cells: list[Any], fields: list[dict[str, Any]]) -> list[Any]:
        """Parse a row cell by cell: a cell its type cannot hold becomes NULL and goes in the report."""
        values = []
        for position, (parse, cell, field) in enumerate(zip(parsers, cells, fields), start=1):
            try:
                values.append(parse(cell))
            except CellError as error:
                values.append(None)
                name = field["name"]
                self.error_counts[name] = self.error_counts.get(name, 0) + 1
                if len(self.errors) < REPORTED_ERRORS:
                    self.errors.append({"type": "type-error", "rowNumber": number, "fieldNumber": position,
                                        "fieldName": name, "cell": str(cell), "note": str(error)})
        return values


def _search(field: dict[str, Any], sample: list[Any]) -> dict[str, str]:
    """How ``q`` finds a text column: by its words, or, for identifiers, by the exact value.

    Identifiers (codes, e-mail addresses, URLs) are text whose sampled values are
    nearly all distinct, short and without spaces. Their words mean nothing to a
    reader, and a million distinct words would make the full-text index several
    times costlier to build.
    """
    if field.get("type", "string") != "string":
        return {}
    values = [value for value in sample if isinstance(value, str) and value.strip()]
    identifiers = (len(values) >= IDENTIFIER_MIN_SAMPLE and len(set(values)) >= 0.95 * len(values)
                   and all(len(value) <= 64 and not any(ch.isspace() for ch in value.strip()) for value in values))
    return {"search": EXACT if identifiers else WORDS}


def _then(parse: Callable[[Any], Any], store: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: store(parse(value))


def _memoized(parse: Callable[[Any], Any], sample: list[Any]) -> Callable[[Any], Any]:
    """``parse`` with a memory of the values it has seen, for columns that repeat themselves.

    Dates, booleans, years and codes repeat across millions of rows; parsing each
    distinct text once is most of the speed of a load. Columns whose sample is
    mostly distinct (amounts) are parsed directly. Errors are not remembered, so
    each bad cell is reported.
    """
    if not sample or len(set(map(str, sample))) > len(sample) // 2:
        return parse
    seen: dict[Any, Any] = {}

    def parse_once(value: Any) -> Any:
        try:
            return seen[value]
        except (KeyError, TypeError):
            parsed = parse(value)
            if len(seen) < MEMO_SIZE and type(value) is str:
                seen[value] = parsed
            return parsed

    return parse_once


def _row_estimate(size: int, sample: list[list[Any]]) -> int | None:
    """About how many rows a CSV holds, from the bytes its first rows take."""
    if not sample or not size:
        return None
    sampled = sum(len(",".join(map(str, cells)).encode()) + 2 for cells in sample)
    return max(len(sample), int(size / (sampled / len(sample))))
