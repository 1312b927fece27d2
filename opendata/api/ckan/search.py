"""``package_search``: CKAN's parameters over the portal's search service.

Two ways to answer, with the same visibility rule (``search.service.visibility_for``):

* the **search service**, when ``fq`` is only facet filters (OR within a facet, AND across
  facets) and ``sort`` is one the service knows: relevance, facets and all its speed;
* the **database**, when the filter needs more (negation, OR across fields, date ranges,
  ``name``/``id``/``capacity``…) or the order is one the index does not keep (``id asc``,
  which harvesters page with): the filter's AST becomes a SQL condition on the datasets
  the caller may see, and free text (``q``) restricts it to the ids the search backend
  matches. ``ORDER BY <keys>, id`` keeps deep paging stable and complete.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select, true

from opendata.accounts.models import User
from opendata.api.ckan.fq import (
    All, And, FilterSyntaxError, Node, Not, Or, Range, Term, facet_filters, normalise, parse,
)
from opendata.catalog.metadata import load_vocabularies
from opendata.catalog.models import Agency, Dataset, DatasetState, Resource, Tag, Theme, dataset_tag, dataset_theme
from opendata.extensions import db
from opendata.search.backends import backend
from opendata.search.base import FACETS, SORT_ALIASES, SORTS, SearchQuery, Visibility
from opendata.search.service import search_datasets, visibility_for

MAX_ROWS = 1000
DEFAULT_SORT = "score desc, metadata_modified desc"
SORT_COLUMNS = {
    "id": Dataset.id, "name": Dataset.name, "title_string": Dataset.title,
    "metadata_modified": Dataset.updated_at, "metadata_created": Dataset.created_at,
}


@dataclass
class SearchAnswer:
    count: int
    datasets: list[Dataset]
    sort: str
    # facet name -> [(value, label, count)], only for the facets asked for
    facets: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool


def parse_sort(text: str) -> list[SortKey]:
    """``"metadata_modified desc, name asc"`` -> keys. Raises FilterSyntaxError for unknown fields."""
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in {"asc", "desc"}):
            raise FilterSyntaxError(f"cannot sort by '{part.strip()}' (write 'field asc' or 'field desc')")
        name = words[0]
        if name != "score" and name not in SORT_COLUMNS:
            raise FilterSyntaxError(f"cannot sort by '{name}' (sortable: score, {', '.join(SORT_COLUMNS)})")
        keys.append(SortKey(name, len(words) == 2 and words[1].lower() == "desc"))
    return keys


def _service_sort(sort: str, has_text: bool) -> str | None:
    """The search service's name for a CKAN sort, or None when only the database can order so."""
    if not has_text and sort.startswith("score"):
        # Without words every score is equal: the next key decides, as in Solr.
        sort = sort.partition(",")[2].strip() or "metadata_modified desc"
    sort = " ".join(sort.split())
    if sort in SORT_ALIASES:
        return SORT_ALIASES[sort]
    return sort if sort in SORTS else None


def package_search(actor: User | None, *, q: str, fq: str, rows: int, start: int, sort: str,
                   facet_fields: list[str], facet_limit: int, include_private: bool) -> SearchAnswer:
    """One page of the datasets ``actor`` may see. Raises FilterSyntaxError for what is not supported."""
    text = "" if q.strip() in {"", "*:*", "*"} else q.strip()
    sort = " ".join((sort or DEFAULT_SORT).split())
    keys = parse_sort(sort)
    unknown = [name for name in facet_fields if name not in FACETS]
    if unknown:
        raise FilterSyntaxError(f"cannot count facet '{unknown[0]}' (facets: {', '.join(FACETS)})")
    tree = parse(fq)
    filters = facet_filters(tree, FACETS)
    service_sort = _service_sort(sort, bool(text))
    if filters is not None and service_sort is not None:
        return _through_service(actor, text, filters, service_sort, sort, rows, start, facet_fields, facet_limit,
                                include_private)
    return _through_database(actor, text, tree, keys, sort, rows, start, facet_fields, facet_limit, include_private)


# --- the search service -------------------------------------------------------------------

def _through_service(actor, text, filters, service_sort, sort, rows, start, facet_fields, facet_limit,
                     include_private) -> SearchAnswer:
    limit = 10**6 if facet_limit < 0 else facet_limit
    per_page = max(rows, 1)
    page, skip = divmod(start, per_page)
    result = search_datasets(actor, q=text, filters=filters, sort=service_sort, page=page + 1, per_page=per_page,
                             include_private=include_private, facet_limit=limit)
    items = list(result.items)
    if skip:  # start is not a multiple of rows: the rest of the window is on the next page
        items = items[skip:] + search_datasets(
            actor, q=text, filters=filters, sort=service_sort, page=page + 2, per_page=per_page,
            include_private=include_private, facet_limit=limit).items[:skip]
    facets = {name: [(value.value, value.label, value.count) for value in result.facets.get(name, [])]
              for name in facet_fields}
    return SearchAnswer(count=result.total, datasets=items[:rows], sort=sort, facets=facets)


# --- the database -------------------------------------------------------------------------

def _visible(visibility: Visibility) -> ColumnElement[bool]:
    """The search service's visibility rule as a SQL condition."""
    alive = Dataset.deleted_at.is_(None)
    if visibility.everything:
        return alive
    shown = Dataset.state == DatasetState.PUBLISHED
    if visibility.agency_ids:
        shown = or_(shown, Dataset.agency_id.in_(sorted(visibility.agency_ids)))
    return and_(alive, shown)


def _year(value: str) -> ColumnElement[bool]:
    if not re.fullmatch(r"\d{4}", value) or not 1 <= int(value) < 9999:
        raise FilterSyntaxError(f"year '{value}' is not a four-digit year")
    year = int(value)
    return and_(Dataset.updated_at >= datetime(year, 1, 1), Dataset.updated_at < datetime(year + 1, 1, 1))


def _choice(term: Term, options: dict[str, ColumnElement[bool]]) -> ColumnElement[bool]:
    if term.value not in options:
        raise FilterSyntaxError(f"'{term.field}' is one of {', '.join(options)}, not '{term.value}'")
    return options[term.value]


def _term(term: Term) -> ColumnElement[bool]:
    """One field:value as a condition that is never NULL, so that NOT inverts it exactly."""
    value = normalise(term)
    match term.field:
        case "organization":
            return Dataset.agency_id.in_(select(Agency.id).where(Agency.name == value))
        case "owner_org":
            return Dataset.agency_id.in_(select(Agency.id).where(or_(Agency.id == value, Agency.name == value)))
        case "groups":
            return Dataset.id.in_(select(dataset_theme.c.dataset_id)
                                  .join(Theme, Theme.id == dataset_theme.c.theme_id).where(Theme.name == value))
        case "tags":
            return Dataset.id.in_(select(dataset_tag.c.dataset_id)
                                  .join(Tag, Tag.id == dataset_tag.c.tag_id).where(Tag.name == value))
        case "res_format":
            return Dataset.id.in_(select(Resource.dataset_id).where(Resource.format == value))
        case "license_id":
            return func.coalesce(Dataset.license_id, "") == value
        case "update_frequency":
            return func.coalesce(Dataset.extras["update_frequency"].as_string(), "") == value
        case "year":
            return _year(value)
        case "name":
            return Dataset.name == value
        case "id":
            return Dataset.id == value
        case "capacity":
            return _choice(term, {"public": Dataset.state == DatasetState.PUBLISHED,
                                  "private": Dataset.state != DatasetState.PUBLISHED})
        case "state":
            return _choice(term, {"active": Dataset.state != DatasetState.DRAFT,
                                  "draft": Dataset.state == DatasetState.DRAFT, "deleted": false()})
        case "dataset_type" | "type":
            return true() if value == "dataset" else false()
    raise FilterSyntaxError(f"field '{term.field}' is not supported")  # the parser lets no other field through


def _range(node: Range) -> ColumnElement[bool]:
    column = Dataset.updated_at if node.field == "metadata_modified" else Dataset.created_at
    conditions = [column.is_not(None)]
    if node.low is not None:
        conditions.append(column >= node.low if node.include_low else column > node.low)
    if node.high is not None:
        conditions.append(column <= node.high if node.include_high else column < node.high)
    return and_(*conditions)


def condition(node: Node) -> ColumnElement[bool]:
    """The filter's AST as a SQL condition on ``Dataset``."""
    match node:
        case All():
            return true()
        case Term():
            return _term(node)
        case Range():
            return _range(node)
        case Not(node=inner):
            return not_(condition(inner))
        case And(nodes=nodes):
            return and_(*(condition(part) for part in nodes))
        case Or(nodes=nodes):
            return or_(*(condition(part) for part in nodes))
    raise TypeError(node)


def _text_matches(actor: User | None, text: str, include_private: bool, ranked: bool) -> list[str]:
    """Ids of every visible dataset matching the words, best first when ``ranked``."""
    query = SearchQuery(q=text, sort="relevance" if ranked else "updated", page=1, per_page=10**9, facet_limit=0,
                        visibility=visibility_for(actor, include_private=include_private))
    return backend().search(query).ids


def _through_database(actor, text, tree, keys, sort, rows, start, facet_fields, facet_limit,
                      include_private) -> SearchAnswer:
    where = [_visible(visibility_for(actor, include_private=include_private))]
    if tree is not None:
        where.append(condition(tree))
    by_score = bool(text) and bool(keys) and keys[0].field == "score"
    order = [(SORT_COLUMNS[key.field].desc() if key.descending else SORT_COLUMNS[key.field].asc())
             for key in keys if key.field != "score"]
    if not order and not by_score:
        order = [Dataset.updated_at.desc()]
    ordered = select(Dataset.id).where(*where).order_by(*order, Dataset.id)
    restrict: set[str] | None = None  # the final ids, when free text made them a Python set
    if text:
        matches = _text_matches(actor, text, include_private, ranked=by_score)
        if by_score:
            found = set(db.session.scalars(select(Dataset.id).where(*where)))
            ids = [dataset_id for dataset_id in matches if dataset_id in found]
        else:
            wanted = set(matches)
            ids = [dataset_id for dataset_id in db.session.scalars(ordered) if dataset_id in wanted]
        restrict = set(ids)
        count, page_ids = len(ids), ids[start:start + rows]
    else:
        count = db.session.scalar(select(func.count()).select_from(Dataset).where(*where))
        page_ids = list(db.session.scalars(ordered.limit(rows).offset(start))) if rows else []
    loaded = {dataset.id: dataset for dataset in db.session.scalars(select(Dataset).where(Dataset.id.in_(page_ids)))}
    datasets = [loaded[dataset_id] for dataset_id in page_ids if dataset_id in loaded]
    scope = select(Dataset.id).where(*where)
    facets = {name: _count(name, scope, restrict, facet_limit) for name in facet_fields}
    return SearchAnswer(count=count, datasets=datasets, sort=sort, facets=facets)


def _pairs(name: str) -> Select:
    """(dataset id, facet value) rows of one facet, as the search index derives them."""
    match name:
        case "organization":
            return select(Dataset.id, Agency.name).join(Agency, Agency.id == Dataset.agency_id)
        case "groups":
            return select(dataset_theme.c.dataset_id, Theme.name).join(Theme, Theme.id == dataset_theme.c.theme_id)
        case "tags":
            return select(dataset_tag.c.dataset_id, Tag.name).join(Tag, Tag.id == dataset_tag.c.tag_id)
        case "res_format":
            return select(Resource.dataset_id, Resource.format).where(Resource.format.is_not(None)).distinct()
        case "license_id":
            return select(Dataset.id, Dataset.license_id).where(Dataset.license_id.is_not(None))
        case "update_frequency":
            return select(Dataset.id, Dataset.extras["update_frequency"].as_string())
        case "year":
            return select(Dataset.id, Dataset.updated_at)
    raise FilterSyntaxError(f"cannot count facet '{name}'")


def _count(name: str, scope: Select, restrict: set[str] | None, facet_limit: int) -> list[tuple[str, str, int]]:
    query = _pairs(name)
    id_column = query.selected_columns[0]
    counts: Counter[str] = Counter()
    for dataset_id, value in db.session.execute(query.where(id_column.in_(scope))):
        if value is None or (restrict is not None and dataset_id not in restrict):
            continue
        counts[str(value.year) if isinstance(value, datetime) else value] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if facet_limit >= 0:
        ranked = ranked[:facet_limit]
    labels = _labels(name, [value for value, _ in ranked])
    return [(value, labels.get(value, value), count) for value, count in ranked]


def _labels(name: str, values: list[str]) -> dict[str, str]:
    if name == "organization" and values:
        return dict(db.session.execute(select(Agency.name, Agency.title).where(Agency.name.in_(values))).all())
    if name == "groups":
        return {theme["name"]: theme["title"] for theme in load_vocabularies()["themes"]}
    if name == "license_id":
        return {item["id"]: item["title"] for item in load_vocabularies()["licenses"]}
    return {}


def as_ckan(answer: SearchAnswer, results: list[dict[str, Any]]) -> dict[str, Any]:
    """CKAN's result: count, results, facets ({name: {value: count}}) and search_facets (with labels)."""
    return {
        "count": answer.count,
        "results": results,
        "facets": {name: {value: count for value, _, count in values} for name, values in answer.facets.items()},
        "search_facets": {
            name: {"title": name, "items": [{"name": value, "display_name": label, "count": count}
                                            for value, label, count in values]}
            for name, values in answer.facets.items()},
        "sort": answer.sort,
    }
