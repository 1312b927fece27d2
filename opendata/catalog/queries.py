"""Read queries of the catalogue. ``visible_datasets`` is the one visibility filter:
lists, search, feeds, the sitemap and DCAT output all start from it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from opendata import authz
from opendata.accounts.models import User
from opendata.catalog.models import Agency, Dataset, DatasetState, Resource, Theme, dataset_theme
from opendata.extensions import db

HOME_ORDERS = {
    "newest": (Dataset.published_at.desc().nulls_last(), Dataset.created_at.desc()),
    "downloads": (Dataset.download_count.desc(), Dataset.name.asc()),
}


def visible_datasets(user: User | None) -> Select:
    """Datasets the user may see: published ones, plus unpublished ones of the user's agencies."""
    query = select(Dataset).where(Dataset.deleted_at.is_(None))
    everything, agency_ids = authz.read_scope(user)
    if everything:
        return query
    if agency_ids:
        return query.where((Dataset.state == DatasetState.PUBLISHED) | Dataset.agency_id.in_(agency_ids))
    return query.where(Dataset.state == DatasetState.PUBLISHED)


def top_datasets(user: User | None, order: str, limit: int = 6) -> list[Dataset]:
    """The newest or most downloaded datasets the user may see (home page)."""
    return list(db.session.scalars(
        visible_datasets(user).options(selectinload(Dataset.agency), selectinload(Dataset.resources))
        .order_by(*HOME_ORDERS[order], Dataset.id).limit(limit)))


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
