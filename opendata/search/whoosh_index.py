"""The embedded search backend: a Whoosh index in the instance folder.

Whoosh scores the text; everything else works on bitmaps of document numbers
cached per index generation (facet values, visibility, sort orders), which is
what makes facet counts cheap at 100,000 datasets. The index folder is a symlink
to a generation folder, so a rebuild is swapped in atomically and a crash
mid-rebuild leaves the previous index in use. Writers from several processes
queue on Whoosh's lock.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from itertools import islice
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.query import And, Or, Prefix, Query, Term

from opendata.search import bitmaps
from opendata.search.base import FACETS, IndexEntry, SearchQuery, SearchResult, Visibility
from opendata.search.facets import SORT_KEYS, FacetTable
from opendata.search.text import Clause, parse_query, words
from opendata.text import fold

INDEX_NAME = "datasets"
RANKINGS_KEPT = 128  # queries whose full first-tier ranking a searcher generation keeps
# (field, boost) pairs. Exact fields keep diacritics and outweigh their folded
# twins, so `lâm` ranks a title with "lâm" above one with only "lắm".
# The description has no exact twin: it would double the postings written per
# dataset (index build rate) for little ranking gain.
EXACT_FIELDS = (("title", 6.0), ("keywords", 3.0))
FOLDED_FIELDS = (("title_f", 4.0), ("keywords_f", 2.0), ("body_f", 0.7))


def _schema() -> Schema:
    # Text arrives as space-separated words already lower-cased (and folded for the
    # *_f fields) by search/text.py, so Whoosh only splits on spaces.
    words = SpaceSeparatedTokenizer()
    facet = dict(commas=True, lowercase=False, scorable=False)
    return Schema(
        id=ID(stored=True, unique=True),
        version=STORED,
        title=TEXT(analyzer=words, phrase=False),
        title_f=TEXT(analyzer=words, phrase=False),
        keywords=TEXT(analyzer=words, phrase=False),
        keywords_f=TEXT(analyzer=words, phrase=False),
        body_f=TEXT(analyzer=words, phrase=False),
        # Folded word pairs ("du_lieu"): a quoted phrase is the AND of its pairs, as
        # fast as plain words, where positional phrase matching took 0.7 s at 10,000.
        pairs=KEYWORD(lowercase=False, commas=False, scorable=False),
        state=ID,
        agency_id=ID,
        published=NUMERIC(int, bits=64, sortable=True),
        updated=NUMERIC(int, bits=64, sortable=True),
        downloads=NUMERIC(int, bits=64, sortable=True),
        name_sort=ID(sortable=True),
        **{f"facet_{name}": KEYWORD(**facet) for name in FACETS},
    )


def _pairs(tokens: list[str]) -> list[str]:
    return [f"{first}_{second}" for first, second in zip(tokens, tokens[1:])]


def _document(entry: IndexEntry) -> dict:
    title = words(entry.title)
    keywords = words(f"{entry.tags_text} {entry.context_text}")
    body = words(f"{entry.notes} {entry.resources_text}")
    folded = {name: [fold(token) for token in tokens] for name, tokens in
              (("title", title), ("keywords", keywords), ("body", body))}
    document = {
        "id": entry.id, "version": entry.version,
        "title": " ".join(title), "title_f": " ".join(folded["title"]),
        "keywords": " ".join(keywords), "keywords_f": " ".join(folded["keywords"]),
        "body_f": " ".join(folded["body"]),
        "pairs": " ".join(_pairs(folded["title"]) + _pairs(folded["body"])),
        "state": entry.state, "agency_id": entry.agency_id,
        # Milliseconds: whole seconds would tie datasets saved in the same second.
        "published": int(entry.published * 1000), "updated": int(entry.updated * 1000), "downloads": entry.downloads,
        "name_sort": entry.name_sort,
    }
    for name in FACETS:
        # Commas separate the values of a KEYWORD field, so none may stay inside one.
        document[f"facet_{name}"] = ",".join(value.replace(",", " ") for value in entry.facets.get(name, ()))
    return document


def _clause_query(clause: Clause, *, strong_only: bool = False) -> Query:
    """A clause as a Whoosh query; ``strong_only`` leaves out the description."""
    if clause.is_phrase:
        return And([Term("pairs", pair, boost=2.0) for pair in _pairs(list(clause.folded))])
    parts = [Term(field, clause.exact[0], boost=boost) for field, boost in EXACT_FIELDS]
    parts += [Term(field, clause.folded[0], boost=boost) for field, boost in FOLDED_FIELDS
              if not (strong_only and field == "body_f")]
    return Or(parts)


def _open(folder: str, attempts: int = 20):
    """Open the index, retrying while another process's commit replaces the table of contents.

    Whoosh lists the newest TOC file and then opens it; a commit in between deletes it
    (FileNotFoundError). The next listing finds the new one.
    """
    for attempt in range(attempts):
        try:
            return whoosh_index.open_dir(folder, indexname=INDEX_NAME)
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


@dataclass
class _Snapshot:
    """One searcher generation: the searcher, its facet table and a cache of term bitmaps."""

    searcher: object
    table: FacetTable
    terms: dict[tuple[str, str], int] = field(default_factory=dict)
    # Every first-tier document of a query, best first: scored once per generation, as
    # Solr's query result cache does, since Whoosh scores in Python. Scores do not depend
    # on filters or visibility, so each page is this order restricted to what is allowed.
    rankings: OrderedDict[tuple[Clause, ...], list[int]] = field(default_factory=OrderedDict)
    asked: set[tuple[Clause, ...]] = field(default_factory=set)
    # gthread workers search from several threads: the cache's bookkeeping takes turns.
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def size(self) -> int:
        return self.table.size

    def term(self, field_name: str, text: str) -> int:
        """Documents holding a term, as a bitmap, cached for this generation."""
        key = (field_name, text)
        bitmap = self.terms.get(key)
        if bitmap is None:
            reader = self.searcher.reader()
            if reader.doc_frequency(field_name, text):
                bitmap = bitmaps.from_ids(reader.postings(field_name, text).all_ids(), self.size) & self.table.live
            else:
                bitmap = 0
            if len(self.terms) > 4096:
                self.terms.clear()
            self.terms[key] = bitmap
        return bitmap

    def ranking(self, clauses: list[Clause], text_query: Query) -> list[int] | None:
        """The query's full ranking once it is asked a second time; None the first time.

        Scoring every match costs more than finding the best few, so a query seen once
        is answered the direct way, and only a query that comes back is ranked in full.
        """
        key = tuple(clauses)
        with self.lock:
            order = self.rankings.get(key)
            if order is not None:
                self.rankings.move_to_end(key)
                return order
            if key not in self.asked:
                if len(self.asked) > 16 * RANKINGS_KEPT:
                    self.asked.clear()
                self.asked.add(key)
                return None
        order = [hit.docnum for hit in self.searcher.search(text_query, limit=None)]
        with self.lock:
            self.rankings[key] = order
            if len(self.rankings) > RANKINGS_KEPT:
                self.rankings.popitem(last=False)
        return order

    def matching(self, clauses: list[Clause]) -> int:
        """Documents matching every clause: word in any field, or all of a phrase's pairs."""
        result = self.table.live
        for clause in clauses:
            if clause.is_phrase:
                for pair in _pairs(list(clause.folded)):
                    result &= self.term("pairs", pair)
            else:
                either = 0
                for name, _ in EXACT_FIELDS:
                    either |= self.term(name, clause.exact[0])
                for name, _ in FOLDED_FIELDS:
                    either |= self.term(name, clause.folded[0])
                result &= either
        return result

    def strong(self, clauses: list[Clause]) -> int:
        """Documents where every word is in the title or keywords (phrases count as found)."""
        result = self.table.live
        for clause in clauses:
            if not clause.is_phrase:
                either = 0
                for name in ("title", "keywords"):
                    either |= self.term(name, clause.exact[0])
                for name in ("title_f", "keywords_f"):
                    either |= self.term(name, clause.folded[0])
                result &= either
        return result

    @classmethod
    def build(cls, searcher) -> _Snapshot:
        reader = searcher.reader()
        size = reader.doc_count_all()

        def postings(field_name: str) -> dict[str, int]:
            if field_name not in reader.indexed_field_names():
                return {}
            return {term.decode("utf-8"): bitmaps.from_ids(reader.postings(field_name, term).all_ids(), size)
                    for term in reader.lexicon(field_name)}

        # An empty index's reader has no columns.
        keys = {name: list(reader.column_reader(name)) if size else [] for name in SORT_KEYS}
        table = FacetTable.from_bitmaps(
            size, bitmaps.from_ids(reader.all_doc_ids(), size), postings("state").get("published", 0),
            postings("agency_id"), {name: postings(f"facet_{name}") for name in FACETS}, keys)
        return cls(searcher=searcher, table=table)


class WhooshBackend:
    def __init__(self, folder: str | Path):
        self.root = Path(folder)
        self.link = self.root / "whoosh"
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._opened: tuple[str, int] | None = None

    # --- opening -----------------------------------------------------------------------

    def _ensure_index(self) -> None:
        if self.link.exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        # Workers starting together must not each create an index and swap it in.
        with open(self.root / ".create.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.link.exists():
                return
            folder = self.root / f"whoosh.{time.time_ns()}"
            folder.mkdir()
            whoosh_index.create_in(folder, _schema(), indexname=INDEX_NAME)
            self._swap_link(folder)

    def _swap_link(self, folder: Path) -> None:
        temporary = self.root / f".whoosh-link.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        os.symlink(folder.name, temporary)
        os.replace(temporary, self.link)  # atomic: readers see the old or the new index

    def _index(self):
        self._ensure_index()
        return _open(str(self.link.resolve()))

    def snapshot(self) -> _Snapshot:
        """The current searcher and its caches, rebuilt when another process changed the index."""
        with self._lock:
            self._ensure_index()
            target = str(self.link.resolve())
            current = self._snapshot
            if current is not None and self._opened and self._opened[0] == target and current.searcher.up_to_date():
                return current
            if current is not None:
                current.searcher.close()
            # A fresh searcher rather than Searcher.refresh(), which fails on an empty index.
            searcher = _open(target).searcher()
            self._snapshot = _Snapshot.build(searcher)
            self._opened = (target, self._snapshot.size)
            return self._snapshot

    # --- writing -----------------------------------------------------------------------

    def index(self, entries: Iterable[IndexEntry]) -> None:
        entries = list(entries)
        if not entries:
            return
        writer = self._index().writer(timeout=60.0, delay=0.05)
        try:
            for entry in entries:
                writer.update_document(**_document(entry))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def remove(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if not ids:
            return
        writer = self._index().writer(timeout=60.0, delay=0.05)
        for dataset_id in ids:
            writer.delete_by_term("id", dataset_id)
        writer.commit()

    def rebuild(self, entries: Iterator[IndexEntry]) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        folder = self.root / f"whoosh.{time.time_ns()}"
        folder.mkdir()
        try:
            ix = whoosh_index.create_in(folder, _schema(), indexname=INDEX_NAME)
            # One indexing process per core; each writes its own segment.
            writer = ix.writer(procs=os.cpu_count() or 1, multisegment=True, limitmb=128)
            count = 0
            for entry in entries:
                writer.add_document(**_document(entry))
                count += 1
            writer.commit()
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        previous = self.link.resolve() if self.link.exists() else None
        self._swap_link(folder)
        if previous is not None and previous != folder:
            # Open searchers keep their files on Linux; new ones open the new folder.
            shutil.rmtree(previous, ignore_errors=True)
        return count

    # --- reading -----------------------------------------------------------------------

    def versions(self) -> dict[str, str]:
        snap = self.snapshot()
        return {fields["id"]: fields["version"] for fields in snap.searcher.all_stored_fields()}

    def search(self, query: SearchQuery) -> SearchResult:
        snap = self.snapshot()
        table = snap.table
        clauses = parse_query(query.q)
        visible = table.visible(query.visibility)
        matched = snap.matching(clauses) & visible if clauses else visible
        selected, final, total = table.narrow(matched, query)
        start, stop = query.offset, query.offset + query.per_page
        if start >= total:
            docnums = []
        elif clauses and query.sort == "relevance":
            docnums = self._relevance_page(snap, clauses, final, total, start, stop)
        else:
            sort = query.sort if query.sort in table.orders else "newest"
            docnums = table.ordered_page(final, total, sort, start, stop)
        ids = [snap.searcher.stored_fields(doc)["id"] for doc in docnums]
        return SearchResult(total=total, ids=ids, facets=table.counts(matched, selected, query))

    def _relevance_page(self, snap: _Snapshot, clauses: list[Clause], final: int, total: int,
                        start: int, stop: int) -> list[int]:
        """Ranked in two tiers: datasets where every word is in the title, tags, agency or
        themes first, by Whoosh's BM25F score; then those that have the words only in their
        descriptions, most recently updated first.

        Title and keyword matches outweigh description matches anyway (see the field
        boosts); scoring only the first tier, on its own short postings, is what keeps a
        common query fast at 100,000 datasets, since Whoosh scores in Python.
        """
        strong = final & snap.strong(clauses)
        strong_count = bitmaps.count(strong)
        strong_query = And([_clause_query(clause, strong_only=True) for clause in clauses])
        page = self._scored(snap, clauses, strong_query, strong, min(stop, strong_count))
        if stop > strong_count:
            rest = final & ~strong
            page += snap.table.ordered_page(rest, total - strong_count, "updated", 0, stop - strong_count)
        return page[start:stop]

    @staticmethod
    def _scored(snap: _Snapshot, clauses: list[Clause], text_query: Query, allowed: int, limit: int) -> list[int]:
        """The ``limit`` best-scored documents of ``allowed``."""
        if limit <= 0 or not allowed:
            return []
        ranking = snap.ranking(clauses, text_query)
        if ranking is not None:
            allowed_ids = set(bitmaps.ids(allowed))
            return list(islice((doc for doc in ranking if doc in allowed_ids), limit))
        # The allowed documents go in as a filter or, when fewer are excluded than
        # kept, as a mask: the smaller set to build and to test.
        excluded = snap.table.live & ~allowed
        if bitmaps.count(excluded) < bitmaps.count(allowed):
            results = snap.searcher.search(text_query, limit=limit, mask=set(bitmaps.ids(excluded)))
        else:
            results = snap.searcher.search(text_query, limit=limit, filter=set(bitmaps.ids(allowed)))
        return [hit.docnum for hit in results]

    def autocomplete(self, q: str, visibility: Visibility, limit: int = 8) -> list[str]:
        clauses = parse_query(q, drop_stop_words=False)
        if not clauses:
            return []
        snap = self.snapshot()
        *complete, last = clauses
        parts = [_clause_query(clause) for clause in complete]
        parts.append(Or([Prefix("title_f", last.folded[-1], boost=2.0), Prefix("keywords_f", last.folded[-1])]))
        allowed = set(bitmaps.ids(snap.table.visible(visibility)))
        if not allowed:  # Whoosh ignores an empty filter: it would search everything
            return []
        results = snap.searcher.search(And(parts), limit=limit, filter=allowed)
        return [hit["id"] for hit in results]
