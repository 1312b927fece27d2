"""The search service: what the /dataset page, the REST API and package_search call.

It turns a user into a visibility rule (through ``authz``), asks the configured
backend, loads the datasets of the page, labels the facets and adds snippets and
a “did you mean” suggestion. Entry points only translate their parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from opendata import authz
from opendata.authz import Action
from opendata.accounts.models import User
from opendata.catalog.metadata import load_vocabularies, vocabulary_label
from opendata.catalog.models import Agency, Dataset
from opendata.extensions import db
from opendata.search.base import FACETS, SORT_ALIASES, SORTS, SearchBackend, SearchQuery, Visibility
from opendata.search.backends import backend
from opendata.search.suggest import did_you_mean
from opendata.search.text import highlight, parse_query

FACET_LABELS = {
    "organization": "Cơ quan",
    "groups": "Lĩnh vực",
    "tags": "Từ khóa",
    "res_format": "Định dạng",
    "license_id": "Giấy phép",
    "update_frequency": "Tần suất cập nhật",
    "year": "Năm cập nhật",
}


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    active: bool


@dataclass
class SearchPage:
    items: list[Dataset]
    total: int
    page: int
    per_page: int
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    snippets: dict[str, Markup] = field(default_factory=dict)
    suggestion: str | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def visibility_for(user: User | None, *, include_private: bool = True) -> Visibility:
    """Published datasets; with ``include_private``, also what the user may read beyond them
    (a sysadmin: everything; a member: the agency's unpublished datasets)."""
    if not include_private:
        return Visibility()
    everything, agency_ids = authz.read_scope(user)
    if everything:
        return Visibility(everything=True)
    return Visibility(agency_ids=frozenset(agency_ids))


def _labels(facets: dict[str, list[tuple[str, int]]]) -> dict[str, dict[str, str]]:
    vocabularies = load_vocabularies()
    agencies = dict(db.session.execute(
        select(Agency.name, Agency.title).where(Agency.name.in_([value for value, _ in facets.get("organization", [])]))
    ).all())
    return {
        "organization": agencies,
        "groups": {theme["name"]: theme["title"] for theme in vocabularies["themes"]},
        "license_id": {item["id"]: item["title"] for item in vocabularies["licenses"]},
        "update_frequency": {value: vocabulary_label("frequencies", value) or value
                             for value, _ in facets.get("update_frequency", [])},
    }


def search_datasets(actor: User | None, *, q: str = "", filters: dict[str, list[str]] | None = None,
                    sort: str | None = None, page: int = 1, per_page: int | None = None,
                    include_private: bool = True, facet_limit: int = 50,
                    search_backend: SearchBackend | None = None) -> SearchPage:
    """One page of the datasets ``actor`` may see that match ``q`` and ``filters``.

    Unknown sorts fall back to relevance (or newest with no text); filters on
    unknown facets are ignored. Never raises for user input.
    """
    per_page = per_page or current_app.config["PAGE_SIZE"]
    # Facet values are stored text: a control character can match none and PostgreSQL
    # rejects NUL outright, so such values are dropped rather than sent.
    filters = {name: [value for value in values if value and value.isprintable()]
               for name, values in (filters or {}).items() if name in FACETS}
    filters = {name: values for name, values in filters.items() if values}
    sort = SORT_ALIASES.get(sort or "", sort)
    sort = sort if sort in SORTS else ("relevance" if q.strip() else "newest")
    query = SearchQuery(q=q, filters=filters, sort=sort, page=max(1, page), per_page=per_page,
                        facet_limit=facet_limit, visibility=visibility_for(actor, include_private=include_private))
    result = (search_backend or backend()).search(query)
    loaded = {dataset.id: dataset for dataset in db.session.scalars(
        select(Dataset).where(Dataset.id.in_(result.ids))
        .options(selectinload(Dataset.agency), selectinload(Dataset.resources)))}
    # The backend already applied the visibility rule; checking again costs little and
    # means a backend bug can never show a dataset to someone who may not read it.
    items = [loaded[dataset_id] for dataset_id in result.ids
             if dataset_id in loaded and authz.can(actor, Action.DATASET_READ, loaded[dataset_id])]
    labels = _labels(result.facets)
    facets = {
        name: [FacetValue(value, labels.get(name, {}).get(value, value), count, value in filters.get(name, []))
               for value, count in values]
        for name, values in result.facets.items()
    }
    clauses = parse_query(q)
    snippets = {dataset.id: highlight(dataset.notes, clauses) for dataset in items} if clauses else {}
    suggestion = None
    if result.total == 0 and clauses:
        candidate = did_you_mean(q)
        if candidate and (search_backend or backend()).search(
                SearchQuery(q=candidate, visibility=query.visibility, per_page=1)).total:
            suggestion = candidate
    return SearchPage(items=items, total=result.total, page=query.page, per_page=per_page, facets=facets,
                      snippets=snippets, suggestion=suggestion)


def autocomplete(actor: User | None, q: str, limit: int = 8) -> list[Dataset]:
    """Datasets whose title starts words with what was typed, best first."""
    ids = backend().autocomplete(q, visibility_for(actor), limit)
    loaded = {dataset.id: dataset for dataset in db.session.scalars(select(Dataset).where(Dataset.id.in_(ids)))}
    return [loaded[dataset_id] for dataset_id in ids
            if dataset_id in loaded and authz.can(actor, Action.DATASET_READ, loaded[dataset_id])]
