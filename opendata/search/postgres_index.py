"""The PostgreSQL search backend: full-text search in the catalogue's own database,
for several app servers sharing it.

Texts are tokenised and folded in Python (search/text.py), exactly as for Whoosh,
and stored as weighted tsvectors built from those tokens, so PostgreSQL's parser
and locale never change what a word is. PostgreSQL matches and ranks the words;
facet counts, totals and the other orders come from the facet engine shared with
Whoosh (search/facets.py), over a snapshot each process rebuilds when the
generation in ``search_state`` moves. Both tables are created by the migrations,
on PostgreSQL only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger, Column, Float, MetaData, SmallInteger, String, Table, Text, bindparam, delete, func, literal,
    select, text, update,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR, insert

from opendata.extensions import db
from opendata.search import bitmaps
from opendata.search.base import FACETS, IndexEntry, SearchQuery, SearchResult, Visibility
from opendata.search.facets import FacetTable
from opendata.search.text import Clause, folded_words, parse_query, words

metadata = MetaData()
search_entry = Table(
    "search_entry", metadata,
    Column("id", String(36), primary_key=True),
    Column("docnum", BigInteger, nullable=False),
    Column("version", String(16), nullable=False),
    Column("tsv", TSVECTOR, nullable=False),
    Column("tsv_exact", TSVECTOR, nullable=False),
    Column("tsv_strong", TSVECTOR, nullable=False),
    Column("state", String(20), nullable=False),
    Column("agency_id", String(36), nullable=False),
    Column("published", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("downloads", BigInteger, nullable=False),
    Column("name_sort", Text, nullable=False),
    *(Column(f"facet_{name}", ARRAY(Text), nullable=False) for name in FACETS),
)
search_state = Table("search_state", metadata, Column("id", SmallInteger, primary_key=True),
                     Column("generation", BigInteger, nullable=False))
MAX_POSITION = 16383  # PostgreSQL's limit for lexeme positions


def _vector(parts: list[tuple[list[str], str]]) -> str:
    """A tsvector literal from (tokens, weight) parts, positions counted across parts."""
    lexemes: dict[str, list[str]] = {}
    position = 0
    for tokens, weight in parts:
        for token in tokens:
            position = min(position + 1, MAX_POSITION)
            lexemes.setdefault(token, []).append(f"{position}{weight}")
    return " ".join(f"'{token}':{','.join(positions[:256])}" for token, positions in lexemes.items())


def _row(entry: IndexEntry) -> dict:
    texts = [(entry.title, "A"), (f"{entry.tags_text} {entry.context_text}", "B"),
             (f"{entry.notes} {entry.resources_text}", "C")]
    row = {
        "id": entry.id, "version": entry.version,
        "tsv": _vector([(folded_words(value), weight) for value, weight in texts]),
        "tsv_exact": _vector([(words(value), weight) for value, weight in texts]),
        # Folded and exact words of the title and keywords together: the first tier both
        # matches and ranks (diacritics kept weigh more) on this one small vector.
        "tsv_strong": _vector([(folded_words(value), weight) for value, weight in texts[:2]]
                              + [(words(value), weight) for value, weight in texts[:2]]),
        "state": entry.state, "agency_id": entry.agency_id, "published": entry.published,
        "updated": entry.updated, "downloads": entry.downloads, "name_sort": entry.name_sort,
    }
    row.update({f"facet_{name}": list(entry.facets.get(name, ())) for name in FACETS})
    return row


def _tsquery(clauses: list[Clause], *, folded: bool, prefix_last: bool = False) -> str:
    parts = []
    for index, clause in enumerate(clauses):
        tokens = clause.folded if folded else clause.exact
        quoted = [f"'{token}'" for token in tokens]
        if prefix_last and index == len(clauses) - 1:
            quoted[-1] += ":*"
        parts.append("(" + " <-> ".join(quoted) + ")" if len(quoted) > 1 else quoted[0])
    return " & ".join(parts)


@dataclass
class _Snapshot:
    """One generation of the table: its facet bitmaps, ids by docnum and cached word matches."""

    generation: int
    table: FacetTable
    ids: list[str | None]
    clauses: dict[tuple[str, ...], int] = field(default_factory=dict)


def _bump(connection) -> None:
    connection.execute(update(search_state).where(search_state.c.id == 1)
                       .values(generation=search_state.c.generation + 1))


class PostgresBackend:
    """Words are matched and ranked by PostgreSQL; facets, totals and stored orders by the
    shared facet engine over a per-process snapshot, rebuilt when the generation moves."""

    def __init__(self):
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    def _visible(self, visibility: Visibility):
        if visibility.everything:
            return literal(True)
        condition = search_entry.c.state == "published"
        if visibility.agency_ids:
            condition = condition | search_entry.c.agency_id.in_(sorted(visibility.agency_ids))
        return condition

    def snapshot(self, connection) -> _Snapshot:
        generation = connection.execute(select(search_state.c.generation)).scalar_one()
        with self._lock:
            if self._snapshot is not None and self._snapshot.generation == generation:
                return self._snapshot
        columns = [search_entry.c.docnum, search_entry.c.state, search_entry.c.agency_id,
                   *(search_entry.c[f"facet_{name}"] for name in FACETS), search_entry.c.published,
                   search_entry.c.updated, search_entry.c.downloads, search_entry.c.name_sort, search_entry.c.id]
        rows = connection.execute(select(*columns)).all()
        count = len(FACETS)
        table = FacetTable.from_rows(
            (row[0], row[1], row[2], dict(zip(FACETS, row[3:3 + count])), *row[3 + count:7 + count]) for row in rows)
        ids: list[str | None] = [None] * table.size
        for row in rows:
            ids[row[0]] = row[-1]
        snapshot = _Snapshot(generation, table, ids)
        with self._lock:
            self._snapshot = snapshot
        return snapshot

    # --- writing -----------------------------------------------------------------------

    def index(self, entries: Iterable[IndexEntry]) -> None:
        rows = [_row(entry) for entry in entries]
        if not rows:
            return
        statement = insert(search_entry)
        statement = statement.on_conflict_do_update(
            index_elements=[search_entry.c.id],
            set_={column.name: statement.excluded[column.name] for column in search_entry.columns
                  if column.name not in {"id", "docnum"}})
        with db.engine.begin() as connection:
            connection.execute(statement, rows)
            _bump(connection)

    def remove(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            with db.engine.begin() as connection:
                connection.execute(delete(search_entry).where(search_entry.c.id.in_(ids)))
                _bump(connection)

    def rebuild(self, entries: Iterator[IndexEntry]) -> int:
        """Replace every row in one transaction: readers keep the old rows until it commits.

        Writers wait on the table lock meanwhile; docnums restart from 0 so the bitmaps stay small.
        """
        count = 0
        with db.engine.begin() as connection:
            connection.execute(text("LOCK TABLE search_entry IN SHARE ROW EXCLUSIVE MODE"))
            connection.execute(delete(search_entry))
            batch: list[dict] = []
            for entry in entries:
                batch.append({**_row(entry), "docnum": count})
                count += 1
                if len(batch) == 1000:
                    connection.execute(insert(search_entry), batch)
                    batch = []
            if batch:
                connection.execute(insert(search_entry), batch)
            connection.execute(text("SELECT setval(pg_get_serial_sequence('search_entry', 'docnum'), :n, false)"),
                               {"n": count})
            _bump(connection)
        return count

    # --- reading -----------------------------------------------------------------------

    def versions(self) -> dict[str, str]:
        with db.engine.connect() as connection:
            return dict(connection.execute(select(search_entry.c.id, search_entry.c.version)).all())

    def _matching(self, connection, snap: _Snapshot, clauses: list[Clause]) -> int:
        """Documents matching every clause, each clause's documents cached for the generation."""
        result = snap.table.live
        for clause in clauses:
            bitmap = snap.clauses.get(clause.folded)
            if bitmap is None:
                query = text("CAST(:q AS tsquery)").bindparams(q=_tsquery([clause], folded=True))
                docnums = connection.execute(
                    select(search_entry.c.docnum).where(search_entry.c.tsv.op("@@")(query))).scalars()
                bitmap = bitmaps.from_ids((doc for doc in docnums if doc < snap.table.size), snap.table.size)
                if len(snap.clauses) > 4096:
                    snap.clauses.clear()
                snap.clauses[clause.folded] = bitmap
            result &= bitmap
        return result

    def search(self, query: SearchQuery) -> SearchResult:
        clauses = parse_query(query.q)
        with db.engine.connect() as connection:
            snap = self.snapshot(connection)
            table = snap.table
            visible = table.visible(query.visibility)
            matched = self._matching(connection, snap, clauses) & visible if clauses else visible
            selected, final, total = table.narrow(matched, query)
            start, stop = query.offset, query.offset + query.per_page
            if start >= total:
                ids: list[str] = []
            elif clauses and query.sort == "relevance":
                ids = self._relevance_page(connection, snap, clauses, query, final, total)
            else:
                sort = query.sort if query.sort in table.orders else "newest"
                ids = [snap.ids[doc] for doc in table.ordered_page(final, total, sort, start, stop)]
        return SearchResult(total=total, ids=[i for i in ids if i], facets=table.counts(matched, selected, query))

    def _strong(self, connection, snap: _Snapshot, q_strong: str) -> int:
        """Documents whose title or keywords match ``q_strong``, cached for the generation."""
        key = ("strong", q_strong)
        bitmap = snap.clauses.get(key)
        if bitmap is None:
            query = text("CAST(:q AS tsquery)").bindparams(q=q_strong)
            docnums = connection.execute(
                select(search_entry.c.docnum).where(search_entry.c.tsv_strong.op("@@")(query))).scalars()
            bitmap = bitmaps.from_ids((doc for doc in docnums if doc < snap.table.size), snap.table.size)
            snap.clauses[key] = bitmap
        return bitmap

    def _relevance_page(self, connection, snap: _Snapshot, clauses: list[Clause], query: SearchQuery,
                        final: int, total: int) -> list[str]:
        """Ranked in two tiers, as with Whoosh: every word in the title or keywords first
        (``tsv_strong``: a short GIN lookup and one small vector to rank, exact words with
        their diacritics weighing more), then the rest, most recently updated first."""
        words_only = [clause for clause in clauses if not clause.is_phrase]
        strong_text = _tsquery(words_only or clauses, folded=True)
        q_strong = text("CAST(:q_strong AS tsquery)").bindparams(q_strong=strong_text)
        q_exact = text("CAST(:q_exact AS tsquery)").bindparams(q_exact=_tsquery(words_only or clauses, folded=False))
        strong = final & self._strong(connection, snap, strong_text)
        strong_count = bitmaps.count(strong)
        stop = query.offset + query.per_page
        page: list[str] = []
        if query.offset < strong_count:
            conditions = [self._visible(query.visibility), search_entry.c.tsv_strong.op("@@")(q_strong)]
            conditions += [search_entry.c[f"facet_{name}"].op("&&")(bindparam(f"filter_{name}", values,
                                                                              type_=ARRAY(Text)))
                           for name, values in query.filters.items() if name in FACETS and values]
            if len(words_only) != len(clauses):  # phrases must still be found in the whole text
                q_folded = text("CAST(:q_folded AS tsquery)").bindparams(q_folded=_tsquery(clauses, folded=True))
                conditions.append(search_entry.c.tsv.op("@@")(q_folded))
            rank = func.ts_rank(search_entry.c.tsv_strong, q_strong) + 1.5 * func.ts_rank(
                search_entry.c.tsv_strong, q_exact)
            page = list(connection.execute(
                select(search_entry.c.id).where(*conditions)
                .order_by(rank.desc(), search_entry.c.updated.desc(), search_entry.c.id)
                .limit(min(stop, strong_count))).scalars())
        if stop > strong_count:
            rest = snap.table.ordered_page(final & ~strong, total - strong_count, "updated", 0, stop - strong_count)
            page = page[:strong_count] + [snap.ids[doc] for doc in rest]
        return page[query.offset:stop]

    def autocomplete(self, q: str, visibility: Visibility, limit: int = 8) -> list[str]:
        clauses = parse_query(q, drop_stop_words=False)
        if not clauses:
            return []
        q_prefix = text("CAST(:q_prefix AS tsquery)").bindparams(
            q_prefix=_tsquery(clauses, folded=True, prefix_last=True))
        with db.engine.connect() as connection:
            return list(connection.execute(
                select(search_entry.c.id).where(self._visible(visibility), search_entry.c.tsv.op("@@")(q_prefix))
                .order_by(func.ts_rank(search_entry.c.tsv, q_prefix).desc(), search_entry.c.downloads.desc())
                .limit(limit)).scalars())
