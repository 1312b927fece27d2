"""Read queries of the catalogue. ``visible_datasets`` is the one visibility filter:
lists, search, feeds, the sitemap and DCAT output all start from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from opendata import authz
from opendata.accounts.models import User
from opendata.catalog.models import Agency, Dataset, DatasetState, Resource, Tag, Theme, dataset_tag, dataset_theme
from opendata.extensions import db
from opendata.text import fold

SORTS = {
    "newest": (Dataset.published_at.desc(), Dataset.created_at.desc()),
    "updated": (Dataset.updated_at.desc(),),
    "name": (Dataset.name.asc(),),
    "downloads": (Dataset.download_count.desc(), Dataset.name.asc()),
}
# CKAN spellings of the same orders, so that CKAN-style links keep working.
SORT_ALIASES = {
    "metadata_created desc": "newest",
    "metadata_modified desc": "updated",
    "title_string asc": "name",
    "name asc": "name",
}
FILTERS = ("organization", "groups", "tags", "res_format")


def visible_datasets(user: User | None) -> Select:
    """Datasets the user may see: published ones, plus unpublished ones of the user's agencies."""
    query = select(Dataset).where(Dataset.deleted_at.is_(None))
    if user is not None and getattr(user, "is_authenticated", False) and user.is_sysadmin:
        return query
    agency_ids = authz.member_agency_ids(user)
    if agency_ids:
        return query.where((Dataset.state == DatasetState.PUBLISHED) | Dataset.agency_id.in_(agency_ids))
    return query.where(Dataset.state == DatasetState.PUBLISHED)


@dataclass
class DatasetPage:
    items: list[Dataset]
    total: int
    page: int
    per_page: int
    facets: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))


def _filtered(query: Select, filters: dict[str, list[str]], q: str | None) -> Select:
    if names := filters.get("organization"):
        query = query.where(Dataset.agency_id.in_(select(Agency.id).where(Agency.name.in_(names))))
    if names := filters.get("groups"):
        query = query.where(Dataset.id.in_(
            select(dataset_theme.c.dataset_id).join(Theme).where(Theme.name.in_(names))))
    if names := filters.get("tags"):
        query = query.where(Dataset.id.in_(
            select(dataset_tag.c.dataset_id).join(Tag).where(Tag.name.in_(names))))
    if formats := filters.get("res_format"):
        query = query.where(Dataset.id.in_(
            select(Resource.dataset_id).where(func.upper(Resource.format).in_([f.upper() for f in formats]))))
    for word in fold(q or "").split():
        query = query.where(Dataset.search_text.contains(word, autoescape=True))
    return query


def _facets(ids: Select) -> dict[str, list[tuple[str, str, int]]]:
    """Counts of the matching datasets per agency, theme, format and tag: (value, label, count)."""
    ids = ids.with_only_columns(Dataset.id).order_by(None).scalar_subquery()
    agencies = db.session.execute(
        select(Agency.name, Agency.title, func.count(Dataset.id)).join(Dataset)
        .where(Dataset.id.in_(ids)).group_by(Agency.name, Agency.title)
        .order_by(func.count(Dataset.id).desc(), Agency.name)).all()
    themes = db.session.execute(
        select(Theme.name, Theme.title, func.count(dataset_theme.c.dataset_id)).join(dataset_theme)
        .where(dataset_theme.c.dataset_id.in_(ids)).group_by(Theme.name, Theme.title, Theme.position)
        .order_by(Theme.position)).all()
    formats = db.session.execute(
        select(Resource.format, func.count(func.distinct(Resource.dataset_id)))
        .where(Resource.dataset_id.in_(ids), Resource.format.is_not(None))
        .group_by(Resource.format).order_by(func.count(func.distinct(Resource.dataset_id)).desc())).all()
    tags = db.session.execute(
        select(Tag.name, func.count(dataset_tag.c.dataset_id)).join(dataset_tag)
        .where(dataset_tag.c.dataset_id.in_(ids)).group_by(Tag.name)
        .order_by(func.count(dataset_tag.c.dataset_id).desc(), Tag.name).limit(15)).all()
    return {
        "organization": [(name, title, count) for name, title, count in agencies],
        "groups": [(name, title, count) for name, title, count in themes],
        "res_format": [(fmt, fmt, count) for fmt, count in formats],
        "tags": [(name, name, count) for name, count in tags],
    }


def list_datasets(user: User | None, *, filters: dict[str, list[str]] | None = None, q: str | None = None,
                  sort: str = "newest", page: int = 1, per_page: int = 20, with_facets: bool = False) -> DatasetPage:
    """One page of the datasets the user may see, filtered and sorted."""
    sort = SORT_ALIASES.get(sort, sort)
    order = SORTS.get(sort, SORTS["newest"])
    query = _filtered(visible_datasets(user), filters or {}, q)
    total = db.session.scalar(query.with_only_columns(func.count()).order_by(None))
    page = max(1, page)
    items = db.session.scalars(
        query.options(selectinload(Dataset.resources), selectinload(Dataset.themes))
        .order_by(*order, Dataset.id).limit(per_page).offset((page - 1) * per_page)).all()
    result = DatasetPage(items=list(items), total=total or 0, page=page, per_page=per_page)
    if with_facets:
        result.facets = _facets(query)
    return result


def catalogue_counts(user: User | None) -> dict[str, Any]:
    """Totals for the home page: datasets, agencies with datasets, resources and downloads."""
    ids = visible_datasets(user).with_only_columns(Dataset.id).scalar_subquery()
    datasets, downloads = db.session.execute(
        select(func.count(Dataset.id), func.coalesce(func.sum(Dataset.download_count), 0)).where(Dataset.id.in_(ids))
    ).one()
    agencies = db.session.scalar(select(func.count(func.distinct(Dataset.agency_id))).where(Dataset.id.in_(ids)))
    resources = db.session.scalar(select(func.count(Resource.id)).where(Resource.dataset_id.in_(ids)))
    return {"datasets": datasets, "agencies": agencies, "resources": resources, "downloads": downloads}


def agencies_with_counts(user: User | None) -> list[tuple[Agency, int]]:
    ids = visible_datasets(user).with_only_columns(Dataset.id).scalar_subquery()
    count = func.count(Dataset.id)
    rows = db.session.execute(
        select(Agency, count).outerjoin(Dataset, (Dataset.agency_id == Agency.id) & Dataset.id.in_(ids))
        .group_by(Agency.id).order_by(count.desc(), Agency.title)).all()
    return [(agency, n) for agency, n in rows]


def themes_with_counts(user: User | None) -> list[tuple[Theme, int]]:
    ids = visible_datasets(user).with_only_columns(Dataset.id).scalar_subquery()
    count = func.count(dataset_theme.c.dataset_id)
    rows = db.session.execute(
        select(Theme, count).outerjoin(dataset_theme, (dataset_theme.c.theme_id == Theme.id)
                                       & dataset_theme.c.dataset_id.in_(ids))
        .group_by(Theme.id).order_by(Theme.position)).all()
    return [(theme, n) for theme, n in rows]
