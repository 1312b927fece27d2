"""The read actions: each translates CKAN's parameters into a service or query call.

Lists of datasets go through ``catalog.queries.visible_datasets`` or the search
service, single datasets through ``catalog.services.get_dataset``: the portal's one
visibility rule decides, and an unpublished dataset is "Not Found" to outsiders.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from opendata.accounts import services as accounts
from opendata.accounts.models import User
from opendata.api.ckan import search
from opendata.api.ckan.dicts import (
    group_dict, license_dict, organization_dict, package_dict, resource_dict, site_url, user_dict,
)
from opendata.api.ckan.params import Params
from opendata.catalog import queries, services
from opendata.catalog.metadata import load_vocabularies
from opendata.catalog.models import Agency, Dataset, Resource, Theme
from opendata.errors import NotFound
from opendata.extensions import db
from opendata.search.service import search_datasets

CKAN_VERSION = "2.10.0"  # the Action API version the portal answers like
LIST_LIMIT = 1000


def status_show(actor: User | None, params: Params) -> dict[str, Any]:
    """The site's name, address and the CKAN API version it speaks."""
    config = current_app.config
    return {"site_title": config["SITE_TITLE"], "site_url": site_url(), "site_description": "",
            "ckan_version": CKAN_VERSION, "error_emails_to": None, "locale_default": "vi",
            "extensions": ["scheming_datasets"]}


def site_read(actor: User | None, params: Params) -> bool:
    """Whether the caller may read the site: always."""
    return True


def package_list(actor: User | None, params: Params) -> list[str]:
    """Names of the published datasets (with include_private, also those the caller's agencies keep), by name."""
    limit = params.integer("limit", LIST_LIMIT * 100, minimum=0)
    offset = params.integer("offset", 0, minimum=0)
    viewer = actor if params.flag("include_private") else None
    query = queries.visible_datasets(viewer).with_only_columns(Dataset.name).order_by(Dataset.name)
    return list(db.session.scalars(query.limit(limit).offset(offset)))


def package_show(actor: User | None, params: Params) -> dict[str, Any]:
    """One dataset by id or name."""
    return package_dict(services.get_dataset(actor, params.first("id", "name")))


def package_search(actor: User | None, params: Params) -> dict[str, Any]:
    """Search: q, fq (Solr subset), rows (≤ 1000), start, sort, facet.field, facet.limit, include_private."""
    answer = search.package_search(
        actor,
        q=params.text("q", "") or "",
        fq=params.text("fq", "") or "",
        rows=params.integer("rows", 10, minimum=0, maximum=search.MAX_ROWS),
        start=params.integer("start", 0, minimum=0),
        sort=params.text("sort", "") or "",
        facet_fields=params.string_list("facet.field"),
        facet_limit=params.integer("facet.limit", 50, minimum=-1),
        include_private=params.flag("include_private"),
    )
    return search.as_ckan(answer, [package_dict(dataset) for dataset in answer.datasets])


def current_package_list_with_resources(actor: User | None, params: Params) -> list[dict[str, Any]]:
    """Published datasets, most recently modified first, with their resources."""
    limit = params.integer("limit", 10, minimum=0, maximum=LIST_LIMIT)
    offset = params.integer("offset", 0, minimum=0)
    page = params.integer("page", 0, minimum=0)
    if page:
        offset = (page - 1) * limit
    query = queries.visible_datasets(None).order_by(Dataset.updated_at.desc(), Dataset.id).limit(limit).offset(offset)
    return [package_dict(dataset) for dataset in db.session.scalars(query)]


def agency_from(params: Params) -> Agency:
    """The agency ``id`` names, by URL name or id. Raises NotFound."""
    key = params.first("id", "name")
    agency = db.session.scalar(select(Agency).where(Agency.name == key)) or db.session.get(Agency, key)
    if agency is None:
        raise NotFound("Không tìm thấy cơ quan này.")
    return agency


def _theme(params: Params) -> Theme:
    key = params.first("id", "name")
    theme = db.session.scalar(select(Theme).where(Theme.name == key)) or db.session.get(Theme, key)
    if theme is None:
        raise NotFound("Không tìm thấy lĩnh vực này.")
    return theme


def _sorted(items: list[tuple[Any, int]], sort: str) -> list[tuple[Any, int]]:
    field, _, direction = (sort or "name asc").partition(" ")
    key = {"name": lambda item: item[0].name, "title": lambda item: item[0].title,
           "package_count": lambda item: item[1]}.get(field, lambda item: item[0].name)
    return sorted(items, key=key, reverse=direction.strip().lower() == "desc")


def _listing(items: list[tuple[Any, int]], params: Params, to_dict) -> list[Any]:
    wanted = params.string_list("organizations") or params.string_list("groups")
    if wanted:
        items = [item for item in items if item[0].name in wanted]
    items = _sorted(items, params.text("sort", "name asc") or "name asc")
    offset = params.integer("offset", 0, minimum=0)
    limit = params.integer("limit", LIST_LIMIT, minimum=0, maximum=LIST_LIMIT)
    items = items[offset:offset + limit]
    if params.flag("all_fields"):
        return [to_dict(thing, package_count=count) for thing, count in items]
    return [thing.name for thing, _ in items]


def organization_list(actor: User | None, params: Params) -> list[Any]:
    """Agencies' names, or with all_fields their dicts and dataset counts."""
    return _listing(queries.agencies_with_counts(actor), params, organization_dict)


def group_list(actor: User | None, params: Params) -> list[Any]:
    """Themes' names, or with all_fields their dicts and dataset counts."""
    return _listing(queries.themes_with_counts(actor), params, group_dict)


def _with_datasets(data: dict[str, Any], actor: User | None, params: Params, facet: str, name: str) -> dict[str, Any]:
    rows = params.integer("rows", 10, minimum=0, maximum=search.MAX_ROWS)
    page = search_datasets(actor, filters={facet: [name]}, sort="updated", per_page=max(rows, 1))
    data["package_count"] = page.total
    if params.flag("include_datasets"):
        data["packages"] = [package_dict(dataset) for dataset in page.items[:rows]]
    return data


def organization_show(actor: User | None, params: Params) -> dict[str, Any]:
    """One agency by id or name; include_datasets adds its datasets the caller may see; include_users its members."""
    agency = agency_from(params)
    data = _with_datasets(organization_dict(agency), actor, params, "organization", agency.name)
    if params.flag("include_users"):
        data["users"] = [{"id": m.user_id, "name": m.user.name, "capacity": m.role}
                         for m in accounts.list_members(actor, agency)]
    return data


def group_show(actor: User | None, params: Params) -> dict[str, Any]:
    """One theme by id or name; include_datasets adds its datasets the caller may see."""
    theme = _theme(params)
    return _with_datasets(group_dict(theme), actor, params, "groups", theme.name)


def tag_list(actor: User | None, params: Params) -> list[Any]:
    """Tags of the published datasets (``query`` keeps those containing it); all_fields gives dicts."""
    page = search_datasets(None, per_page=1, facet_limit=10**6)
    names = sorted(value.value for value in page.facets.get("tags", []))
    query = (params.text("query") or params.text("q") or "").lower()
    if query:
        names = [name for name in names if query in name]
    if params.flag("all_fields"):
        return [{"id": name, "name": name, "display_name": name, "vocabulary_id": None} for name in names]
    return names


def license_list(actor: User | None, params: Params) -> list[dict[str, Any]]:
    """The licences datasets may carry."""
    return [license_dict(item) for item in load_vocabularies()["licenses"]]


def resource_show(actor: User | None, params: Params) -> dict[str, Any]:
    """One resource by id, from a dataset the caller may see."""
    resource_id = params.first("id")
    resource = db.session.get(Resource, resource_id)
    if resource is None:
        raise NotFound("Không tìm thấy tài nguyên này.")
    dataset = services.get_dataset(actor, resource.dataset_id)
    return resource_from_document(dataset, resource_id)


def resource_from_document(dataset: Dataset, resource_id: str) -> dict[str, Any]:
    document = dataset.document
    for item in document.get("resources", []):
        if item["id"] == resource_id:
            return resource_dict(document, item, site_url())
    raise NotFound("Không tìm thấy tài nguyên này.")


def user_show(actor: User | None, params: Params) -> dict[str, Any]:
    """A user's public details; the e-mail address only to the user and sysadmins."""
    user = accounts.get_user(params.first("id", "name"))
    own = actor is not None and (actor.id == user.id or actor.is_sysadmin)
    return user_dict(user, with_email=own)


ACTIONS = {function.__name__: function for function in (
    status_show, site_read, package_list, package_show, package_search, current_package_list_with_resources,
    organization_list, organization_show, group_list, group_show, tag_list, license_list, resource_show, user_show,
)}
