"""The facet engine both backends share: per-generation bitmaps of facet values,
visibility and sort orders, over the backend's own document numbers.

A backend builds one ``FacetTable`` each time its index changes (Whoosh from its
postings, PostgreSQL from its rows) and hands it the set of documents that match
the words; counting, filtering, totals and the non-relevance orders happen here,
identically for both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from opendata.search import bitmaps
from opendata.search.base import FACETS, SearchQuery, Visibility

SORT_KEYS = ("published", "updated", "downloads", "name_sort")


def _orders(size: int, keys: dict[str, list]) -> dict[str, list[int]]:
    documents = range(size)
    return {
        "newest": sorted(documents, key=lambda doc: (-keys["published"][doc], -keys["updated"][doc])),
        "updated": sorted(documents, key=lambda doc: -keys["updated"][doc]),
        "name": sorted(documents, key=lambda doc: keys["name_sort"][doc]),
        "downloads": sorted(documents, key=lambda doc: (-keys["downloads"][doc], keys["name_sort"][doc])),
    }


@dataclass
class FacetTable:
    size: int
    live: int
    published: int
    agencies: dict[str, int]
    facets: dict[str, dict[str, int]]
    orders: dict[str, list[int]]
    _ranks: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def from_bitmaps(cls, size: int, live: int, published: int, agencies: dict[str, int],
                     facets: dict[str, dict[str, int]], keys: dict[str, list]) -> FacetTable:
        """``keys`` holds, per sort key, one value per document number."""
        return cls(size=size, live=live, published=published & live,
                   agencies={name: bitmap & live for name, bitmap in agencies.items()},
                   facets={name: {value: bitmap & live for value, bitmap in values.items()}
                           for name, values in facets.items()},
                   orders=_orders(size, keys))

    @classmethod
    def from_rows(cls, rows: Iterable[tuple]) -> FacetTable:
        """Rows of (docnum, state, agency_id, {facet: values}, published, updated, downloads, name_sort)."""
        rows = list(rows)
        size = max((row[0] for row in rows), default=-1) + 1
        keys: dict[str, list] = {"published": [0.0] * size, "updated": [0.0] * size,
                                 "downloads": [0] * size, "name_sort": [""] * size}
        members: dict[str, dict[str, list[int]]] = {name: {} for name in FACETS}
        published, agencies, live = [], {}, []
        for docnum, state, agency_id, facet_values, *sort_values in rows:
            live.append(docnum)
            if state == "published":
                published.append(docnum)
            agencies.setdefault(agency_id, []).append(docnum)
            for name in FACETS:
                for value in facet_values.get(name) or ():
                    members[name].setdefault(value, []).append(docnum)
            for key, value in zip(SORT_KEYS, sort_values):
                keys[key][docnum] = value
        return cls.from_bitmaps(
            size, bitmaps.from_ids(live, size), bitmaps.from_ids(published, size),
            {agency: bitmaps.from_ids(docs, size) for agency, docs in agencies.items()},
            {name: {value: bitmaps.from_ids(docs, size) for value, docs in values.items()}
             for name, values in members.items()},
            keys)

    def visible(self, visibility: Visibility) -> int:
        if visibility.everything:
            return self.live
        allowed = self.published
        for agency_id in visibility.agency_ids:
            allowed |= self.agencies.get(agency_id, 0)
        return allowed

    def selected(self, query: SearchQuery) -> dict[str, int]:
        """Per filtered facet, the documents having any of the chosen values (OR within a facet)."""
        chosen = {}
        for name, values in query.filters.items():
            if name in self.facets and values:
                bitmap = 0
                for value in values:
                    bitmap |= self.facets[name].get(value, 0)
                chosen[name] = bitmap
        return chosen

    def narrow(self, matched: int, query: SearchQuery) -> tuple[dict[str, int], int, int]:
        """Apply the facet filters to the matching documents: (per-facet selections, final set, its size)."""
        selected = self.selected(query)
        final = matched
        for bitmap in selected.values():
            final &= bitmap
        return selected, final, bitmaps.count(final)

    def counts(self, matched: int, selected: dict[str, int], query: SearchQuery) -> dict[str, list[tuple[str, int]]]:
        """Counts per value; each facet counts under the other facets' filters (AND across facets)."""
        result = {}
        for name, values in self.facets.items():
            base = matched
            for other, bitmap in selected.items():
                if other != name:
                    base &= bitmap
            chosen = set(query.filters.get(name, []))
            counted = [(value, bitmaps.count(bitmap & base)) for value, bitmap in values.items()]
            ranked = sorted((item for item in counted if item[1] or item[0] in chosen),
                            key=lambda item: (-item[1], item[0]))
            top = ranked[: query.facet_limit] + [item for item in ranked[query.facet_limit:] if item[0] in chosen]
            present = {value for value, _ in top}
            result[name] = top + [(value, 0) for value in sorted(chosen - present)]
        return result

    def ordered_page(self, final: int, total: int, sort: str, start: int, stop: int) -> list[int]:
        """Document numbers of one page of ``final`` in a stored order (not relevance)."""
        order = self.orders[sort]
        if total * 8 < self.size:
            # Few matches: sort them rather than walk the whole order.
            rank = self._rank(sort)
            return sorted(bitmaps.ids(final), key=rank.__getitem__)[start:stop]
        members = final.to_bytes((self.size >> 3) + 1, "little")
        page, seen = [], 0
        for doc in order:
            if members[doc >> 3] >> (doc & 7) & 1:
                if seen >= start:
                    page.append(doc)
                    if len(page) == stop - start:
                        break
                seen += 1
        return page

    def _rank(self, sort: str) -> list[int]:
        if sort not in self._ranks:
            ranks = [0] * self.size
            for position, doc in enumerate(self.orders[sort]):
                ranks[doc] = position
            self._ranks[sort] = ranks
        return self._ranks[sort]
