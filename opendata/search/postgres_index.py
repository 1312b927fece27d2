"""The PostgreSQL search backend: full-text search in the catalogue's own database,
for several app servers sharing it.

Texts are tokenised and folded in Python (search/text.py), exactly as for Whoosh,
and stored as weighted tsvectors built from those tokens, so PostgreSQL's parser
and locale never change what a word is. The table ``search_entry`` is created by
the migrations on PostgreSQL only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import (
    BigInteger, Column, Float, MetaData, String, Table, Text, bindparam, delete, func, literal, select, text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR, insert

from opendata.extensions import db
from opendata.search.base import FACETS, IndexEntry, SearchQuery, SearchResult, Visibility
from opendata.search.text import Clause, folded_words, parse_query, words

metadata = MetaData()
search_entry = Table(
    "search_entry", metadata,
    Column("id", String(36), primary_key=True),
    Column("version", String(16), nullable=False),
    Column("tsv", TSVECTOR, nullable=False),
    Column("tsv_exact", TSVECTOR, nullable=False),
    Column("state", String(20), nullable=False),
    Column("agency_id", String(36), nullable=False),
    Column("published", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("downloads", BigInteger, nullable=False),
    Column("name_sort", Text, nullable=False),
    *(Column(f"facet_{name}", ARRAY(Text), nullable=False) for name in FACETS),
)
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


class PostgresBackend:
    table = search_entry

    def _visible(self, visibility: Visibility):
        if visibility.everything:
            return literal(True)
        condition = search_entry.c.state == "published"
        if visibility.agency_ids:
            condition = condition | search_entry.c.agency_id.in_(sorted(visibility.agency_ids))
        return condition

    # --- writing -----------------------------------------------------------------------

    def index(self, entries: Iterable[IndexEntry]) -> None:
        rows = [_row(entry) for entry in entries]
        if not rows:
            return
        statement = insert(search_entry)
        statement = statement.on_conflict_do_update(
            index_elements=[search_entry.c.id],
            set_={column.name: statement.excluded[column.name] for column in search_entry.columns if column.name != "id"})
        with db.engine.begin() as connection:
            connection.execute(statement, rows)

    def remove(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            with db.engine.begin() as connection:
                connection.execute(delete(search_entry).where(search_entry.c.id.in_(ids)))

    def rebuild(self, entries: Iterator[IndexEntry]) -> int:
        """Replace every row in one transaction: readers keep the old rows until it commits."""
        count = 0
        with db.engine.begin() as connection:
            connection.execute(delete(search_entry))
            batch: list[dict] = []
            for entry in entries:
                batch.append(_row(entry))
                count += 1
                if len(batch) == 1000:
                    connection.execute(insert(search_entry), batch)
                    batch = []
            if batch:
                connection.execute(insert(search_entry), batch)
        return count

    # --- reading -----------------------------------------------------------------------

    def versions(self) -> dict[str, str]:
        with db.engine.connect() as connection:
            return dict(connection.execute(select(search_entry.c.id, search_entry.c.version)).all())

    def search(self, query: SearchQuery) -> SearchResult:
        clauses = parse_query(query.q)
        base = [self._visible(query.visibility)]
        rank = None
        if clauses:
            q_folded = text("CAST(:q_folded AS tsquery)").bindparams(q_folded=_tsquery(clauses, folded=True))
            q_exact = text("CAST(:q_exact AS tsquery)").bindparams(q_exact=_tsquery(clauses, folded=False))
            base.append(search_entry.c.tsv.op("@@")(q_folded))
            rank = func.ts_rank(search_entry.c.tsv, q_folded) + 1.5 * func.ts_rank(search_entry.c.tsv_exact, q_exact)
        selected = {name: values for name, values in query.filters.items() if name in FACETS and values}
        filters = {name: search_entry.c[f"facet_{name}"].op("&&")(bindparam(f"filter_{name}", values, type_=ARRAY(Text)))
                   for name, values in selected.items()}
        where = [*base, *filters.values()]
        order = {
            "relevance": [rank.desc(), search_entry.c.updated.desc()] if rank is not None else None,
            "newest": [search_entry.c.published.desc(), search_entry.c.updated.desc()],
            "updated": [search_entry.c.updated.desc()],
            "name": [search_entry.c.name_sort.asc()],
            "downloads": [search_entry.c.downloads.desc(), search_entry.c.name_sort.asc()],
        }.get(query.sort) or [search_entry.c.published.desc(), search_entry.c.updated.desc()]
        with db.engine.connect() as connection:
            total = connection.execute(select(func.count()).select_from(search_entry).where(*where)).scalar_one()
            ids = list(connection.execute(
                select(search_entry.c.id).where(*where).order_by(*order, search_entry.c.id)
                .limit(query.per_page).offset(query.offset)).scalars())
            facets = self._facets(connection, base, filters, query)
        return SearchResult(total=total, ids=ids, facets=facets)

    def _facets(self, connection, base, filters, query: SearchQuery) -> dict[str, list[tuple[str, int]]]:
        """All facet counts in one statement; each facet counts under the other facets' filters."""
        parts = []
        for name in FACETS:
            value = func.unnest(search_entry.c[f"facet_{name}"]).table_valued("value").render_derived()
            others = [condition for other, condition in filters.items() if other != name]
            parts.append(
                select(literal(name).label("facet"), value.c.value, func.count().label("n"))
                .select_from(search_entry).join(value, literal(True)).where(*base, *others)
                .group_by(value.c.value))
        rows = connection.execute(union_all(*parts)).all()
        result: dict[str, list[tuple[str, int]]] = {name: [] for name in FACETS}
        for facet, value, count in rows:
            result[facet].append((value, count))
        for name, values in result.items():
            chosen = set(query.filters.get(name, []))
            ranked = sorted(values, key=lambda item: (-item[1], item[0]))
            top = ranked[: query.facet_limit] + [item for item in ranked[query.facet_limit:] if item[0] in chosen]
            present = {value for value, _ in top}
            top += [(value, 0) for value in sorted(chosen - present)]
            result[name] = top
        return result

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
