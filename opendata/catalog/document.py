"""The stored document of a dataset: everything its page shows, in one JSON value.

CKAN keeps a dataset's validated dict beside its rows for the same reason: a page
or an API read then costs one row instead of a join per relationship. The
services rebuild the document in the transaction of every change to the dataset,
its resources, its agency, or the themes and licences it names; live counters
(downloads) stay in their columns and are never copied here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from marshmallow import Schema

from opendata import authz
from opendata.accounts.models import User
from opendata.authz import Action
from opendata.catalog.metadata import schema_path
from opendata.catalog.models import Dataset, Resource
from opendata.catalog.schemas import dataset_schema_class, resource_schema_class
from opendata.datastore.models import DatastoreTable
from opendata.extensions import db
from opendata.markup import render_markdown
from opendata.privacy.gate import resource_blocker


@lru_cache(maxsize=8)
def _schemas(path: Path) -> tuple[Schema, Schema]:
    """Schema instances for a metadata schema file: building one costs more than a dump."""
    return (dataset_schema_class()(exclude=("resources", "download_count")),
            resource_schema_class()(exclude=("download_count",)))


def _resource(resource: Resource, schema: Schema) -> dict[str, Any]:
    data = schema.dump(resource)
    data["description_html"] = str(render_markdown(resource.description)) if resource.description else ""
    data["is_upload"] = resource.is_upload
    # Held back by the non-sensitive gate: shown to the dataset's editors only (``shown_resources``).
    data["held_back"] = resource_blocker(resource.dataset, resource) is not None
    table = db.session.get(DatastoreTable, resource.id) if resource.id else None
    data["datastore_active"] = table is not None and table.ready
    return data


def build_document(dataset: Dataset) -> dict[str, Any]:
    """Serialise the dataset with the display data of what it refers to."""
    dataset_schema, resource_schema = _schemas(schema_path())
    data = dataset_schema.dump(dataset)
    agency = dataset.agency
    data.update(
        notes_html=str(render_markdown(dataset.notes)),
        agency={"id": agency.id, "name": agency.name, "title": agency.title, "title_en": agency.title_en,
                "description": agency.description},
        license=({"id": dataset.license.id, "title": dataset.license.title, "url": dataset.license.url}
                 if dataset.license else None),
        themes=[{"name": theme.name, "title": theme.title} for theme in dataset.themes],
        tags=[{"name": tag.name} for tag in dataset.tags],
        resources=[_resource(resource, resource_schema) for resource in dataset.resources],
        is_published=dataset.is_published,
    )
    return data


def refresh_document(dataset: Dataset) -> None:
    """Rebuild the stored document; the caller commits."""
    dataset.document = build_document(dataset)


def shown_resources(dataset: Dataset, actor: User | None) -> list[dict[str, Any]]:
    """The document's resources ``actor`` may have: a file the gate holds back (a scan running,
    personal data not accepted) is listed to the dataset's editors only."""
    entries = dataset.document.get("resources", [])
    if not any(entry.get("held_back") for entry in entries) or authz.can(actor, Action.DATASET_UPDATE, dataset):
        return entries
    return [entry for entry in entries if not entry.get("held_back")]
