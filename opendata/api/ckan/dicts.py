"""CKAN's dictionaries of the portal's objects, and the portal's payloads from CKAN's.

Packages and resources are built from the dataset's stored document (one row, no
joins), so ``package_show`` costs a lookup and a dict copy. Fields of the metadata
schema that CKAN does not know are flattened at the top level, as ckanext-scheming does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import current_app

from opendata.api.auth import api_actor
from opendata.catalog.document import shown_resources
from opendata.accounts.models import Membership, User
from opendata.catalog.metadata import load_metadata_schema, load_vocabularies
from opendata.catalog.models import Agency, Dataset, DatasetState, Theme
from opendata.catalog.workflow import state_of

# CKAN has three states. Draft stays draft; a submitted or withdrawn dataset is complete
# but not public, which CKAN calls active and private; the trash is deleted.
CKAN_STATES = {
    DatasetState.DRAFT: "draft",
    DatasetState.PENDING: "active",
    DatasetState.PUBLISHED: "active",
    DatasetState.WITHDRAWN: "active",
}
# What package_show gives that package_create/update take no notice of: computed fields,
# and CKAN core fields the portal does not keep (so a dump from a CKAN site loads).
READ_ONLY_FIELDS = frozenset({
    "id", "type", "state", "publication_state", "metadata_created", "metadata_modified", "published_at",
    "organization", "num_resources", "num_tags", "license_title", "license_url", "isopen", "creator_user_id",
    "download_count", "revision_id", "relationships_as_object", "relationships_as_subject", "tracking_summary",
    "author", "author_email", "url", "plugin_data",
})


def site_url() -> str:
    return current_app.config["SITE_URL"].rstrip("/")


def _extra_fields() -> tuple[str, ...]:
    return tuple(spec.field_name for spec in load_metadata_schema().dataset_fields if not spec.core)


def _license_open(license_id: str | None) -> bool:
    return any(item["id"] == license_id and item["is_open"] for item in load_vocabularies()["licenses"])


def agency_summary(agency: Mapping[str, Any]) -> dict[str, Any]:
    """An organization as it appears inside a package (from the document's copy of the agency)."""
    return {
        "id": agency["id"], "name": agency["name"], "title": agency["title"], "display_name": agency["title"],
        "title_en": agency.get("title_en"), "description": agency.get("description") or "",
        "type": "organization", "is_organization": True, "state": "active", "approval_status": "approved",
        "image_url": "",
    }


def resource_dict(document: Mapping[str, Any], resource: Mapping[str, Any], base: str) -> dict[str, Any]:
    """A resource; an uploaded file's ``url`` is its absolute download address."""
    if resource.get("is_upload"):
        url = (f"{base}/dataset/{document['name']}/resource/{resource['id']}/download/"
               f"{quote(resource.get('filename') or 'download')}")
    else:
        url = resource.get("url") or ""
    return {
        "id": resource["id"],
        "package_id": document["id"],
        "name": resource.get("name"),
        "description": resource.get("description") or "",
        "format": resource.get("format") or "",
        "mimetype": resource.get("media_type"),
        "size": resource.get("size"),
        # CKAN's hash is a free string; the portal's files always carry their SHA-256 (hex).
        "hash": resource.get("sha256") or "",
        "position": resource.get("position", 0),
        "created": resource.get("created_at"),
        "last_modified": resource.get("updated_at"),
        "url": url,
        "url_type": "upload" if resource.get("is_upload") else None,
        "state": "active",
        "datastore_active": bool(resource.get("datastore_active")),
        "schema": resource.get("schema"),
    }


def package_dict(dataset: Dataset) -> dict[str, Any]:
    """The CKAN package of a dataset, from its stored document and its row's state."""
    document = dataset.document
    base = site_url()
    license_ = document.get("license") or {}
    resources = [resource_dict(document, resource, base) for resource in shown_resources(dataset, api_actor())]
    tags = document.get("tags", [])
    package = {
        "id": document["id"],
        "name": document["name"],
        "title": document["title"],
        "notes": document.get("notes") or "",
        "type": "dataset",
        "state": "deleted" if dataset.deleted_at is not None else CKAN_STATES.get(dataset.state, "active"),
        "publication_state": state_of(dataset),
        "private": not dataset.is_published,
        "owner_org": document["agency"]["id"],
        "organization": agency_summary(document["agency"]),
        "groups": [{"name": theme["name"], "title": theme["title"], "display_name": theme["title"]}
                   for theme in document.get("themes", [])],
        "tags": [{"name": tag["name"], "display_name": tag["name"], "state": "active", "vocabulary_id": None}
                 for tag in tags],
        "license_id": document.get("license_id"),
        "license_title": license_.get("title"),
        "license_url": license_.get("url"),
        "isopen": _license_open(document.get("license_id")),
        "maintainer": document.get("contact_name"),
        "maintainer_email": document.get("contact_email"),
        "metadata_created": document.get("created_at"),
        "metadata_modified": document.get("updated_at"),
        "published_at": document.get("published_at"),
        "creator_user_id": dataset.creator_id,
        "download_count": dataset.download_count,
        "num_resources": len(resources),
        "num_tags": len(tags),
        "resources": resources,
    }
    for name in _extra_fields():
        package.setdefault(name, document.get(name))
    return package


def organization_dict(agency: Agency, *, package_count: int | None = None) -> dict[str, Any]:
    data = agency_summary({"id": agency.id, "name": agency.name, "title": agency.title, "title_en": agency.title_en,
                           "description": agency.description})
    data.update(created=agency.created_at.isoformat(), email=agency.email, url=agency.url)
    if package_count is not None:
        data["package_count"] = package_count
    return data


def group_dict(theme: Theme, *, package_count: int | None = None) -> dict[str, Any]:
    data = {
        "id": theme.id, "name": theme.name, "title": theme.title, "display_name": theme.title,
        "title_en": theme.title_en, "description": theme.description or "", "type": "group",
        "is_organization": False, "state": "active", "approval_status": "approved", "image_url": "",
    }
    if package_count is not None:
        data["package_count"] = package_count
    return data


def user_dict(user: User, *, with_email: bool) -> dict[str, Any]:
    data = {
        "id": user.id, "name": user.name, "fullname": user.fullname, "display_name": user.display_name,
        "created": user.created_at.isoformat(), "state": "active" if user.active else "blocked",
        "sysadmin": user.is_sysadmin, "about": "",
    }
    if with_email:
        data["email"] = user.email
    return data


def member_dict(membership: Membership) -> dict[str, Any]:
    return {"id": str(membership.id), "table_name": "user", "table_id": membership.user_id,
            "group_id": membership.agency_id, "capacity": membership.role, "state": "active"}


def license_dict(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": item["id"], "title": item["title"], "url": item.get("url") or "", "status": "active",
            "od_conformance": "approved" if item["is_open"] else "not reviewed", "osd_conformance": "not reviewed",
            "is_okd_compliant": item["is_open"], "is_generic": item["url"] is None}


# --- input ---------------------------------------------------------------------------------

def _names(items: Any) -> Any:
    """CKAN sends tags and groups as dicts ({"name": ...}); the portal's schema takes names."""
    if not isinstance(items, list):
        return items  # the schema explains what is wrong with it
    return [item.get("name") or item.get("id") if isinstance(item, Mapping) else item for item in items]


def dataset_payload(data: Mapping[str, Any], agency_name: str | None) -> dict[str, Any]:
    """The portal's dataset payload from a CKAN package dict (``private`` and ``resources`` left out).

    ``agency_name`` is the agency ``owner_org`` named (looked up by the caller), if any.
    Unknown keys are kept, so that the schema refuses them by name.
    """
    payload: dict[str, Any] = {}
    for key, value in data.items():
        if key in READ_ONLY_FIELDS or key in {"private", "resources", "owner_org", "extras", "tag_string"}:
            continue
        if key == "groups":
            payload["themes"] = _names(value)
        elif key == "tags":
            payload["tags"] = _names(value)
        elif key == "maintainer":
            payload.setdefault("contact_name", value)
        elif key == "maintainer_email":
            payload.setdefault("contact_email", value)
        else:
            payload[key] = value
    if "contact_name" in data:
        payload["contact_name"] = data["contact_name"]
    if "contact_email" in data:
        payload["contact_email"] = data["contact_email"]
    if "tags" not in payload and isinstance(data.get("tag_string"), str):
        payload["tags"] = [part.strip() for part in data["tag_string"].split(",") if part.strip()]
    extras = data.get("extras")
    if isinstance(extras, list):  # CKAN's free extras: [{"key": ..., "value": ...}]
        for item in extras:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                payload.setdefault(item["key"], item.get("value"))
    if agency_name is not None:
        payload["agency"] = agency_name
    return payload


RESOURCE_FIELDS = ("name", "description", "format", "url", "schema")


def resource_payload(data: Mapping[str, Any]) -> dict[str, Any]:
    """The portal's resource payload from a CKAN resource dict: the fields a client may set."""
    return {key: data[key] for key in RESOURCE_FIELDS if key in data}
