"""The search interface shared by the backends, and what a query and an answer hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol

# Facets, named as CKAN names them so that links and API parameters carry over.
FACETS = ("organization", "groups", "tags", "res_format", "license_id", "update_frequency", "year")
SORTS = ("relevance", "newest", "updated", "name", "downloads")
# CKAN's spellings of the same orders, so CKAN-style links and clients keep working.
SORT_ALIASES = {
    "score desc": "relevance",
    "score desc, metadata_modified desc": "relevance",
    "metadata_created desc": "newest",
    "metadata_modified desc": "updated",
    "title_string asc": "name",
    "name asc": "name",
}


@dataclass(frozen=True)
class Visibility:
    """What a searcher may see: published datasets, plus the unpublished ones of
    ``agency_ids`` (agency members who ask for them), or everything (sysadmins)."""

    everything: bool = False
    agency_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class IndexEntry:
    """One dataset as the backends index it."""

    id: str
    name: str
    title: str
    tags_text: str
    notes: str
    context_text: str  # agency and theme names
    resources_text: str  # resource names, descriptions, formats, data dictionary columns
    facets: dict[str, tuple[str, ...]]
    state: str
    agency_id: str
    published: float  # epoch seconds, 0 when never published
    updated: float
    downloads: int
    name_sort: str
    version: str  # changes whenever the entry would change: drives `search check`


@dataclass
class SearchQuery:
    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    facet_limit: int = 50
    visibility: Visibility = Visibility()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass
class SearchResult:
    total: int
    ids: list[str]
    facets: dict[str, list[tuple[str, int]]]


class SearchBackend(Protocol):
    """A search index of datasets. Implementations: whoosh_index, postgres_index."""

    def index(self, entries: Iterable[IndexEntry]) -> None:
        """Add or replace these entries."""

    def remove(self, ids: Iterable[str]) -> None:
        """Remove these datasets from the index (no error for unknown ids)."""

    def search(self, query: SearchQuery) -> SearchResult:
        """Matching ids in order for the page asked, the total and facet counts."""

    def autocomplete(self, q: str, visibility: Visibility, limit: int = 8) -> list[str]:
        """Ids of datasets whose title starts words with what was typed."""

    def versions(self) -> dict[str, str]:
        """Every indexed id with its entry's version, to compare with the database."""

    def rebuild(self, entries: Iterator[IndexEntry]) -> int:
        """Replace the whole index with ``entries``; readers see the old index until done."""
