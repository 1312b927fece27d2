"""Index entries built from datasets' stored documents, so indexing needs no joins."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from opendata.catalog.models import Dataset
from opendata.search.base import IndexEntry
from opendata.text import fold


def _epoch(value: str | datetime | None) -> float:
    if not value:
        return 0.0
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=timezone.utc).timestamp()


def _resources_text(document: dict[str, Any]) -> str:
    parts: list[str] = []
    for resource in document.get("resources", []):
        parts += [resource.get("name") or "", resource.get("description") or "", resource.get("format") or ""]
        for column in (resource.get("schema") or {}).get("fields", []):
            parts += [column.get("name") or "", column.get("title") or "", column.get("description") or ""]
    return " ".join(part for part in parts if part)


def entry_for(dataset: Dataset) -> IndexEntry:
    """The index entry of a dataset (deleted datasets are not indexed at all)."""
    document = dataset.document or {}
    updated = document.get("updated_at") or dataset.updated_at.isoformat()
    facets = {
        "organization": (document["agency"]["name"],),
        "groups": tuple(theme["name"] for theme in document.get("themes", [])),
        "tags": tuple(tag["name"] for tag in document.get("tags", [])),
        "res_format": tuple(sorted({resource["format"] for resource in document.get("resources", [])
                                    if resource.get("format")})),
        "license_id": (document["license_id"],) if document.get("license_id") else (),
        "update_frequency": (document["update_frequency"],) if document.get("update_frequency") else (),
        "year": (updated[:4],),
    }
    context = [document["agency"]["title"]] + [theme["title"] for theme in document.get("themes", [])]
    # Everything the entry is made of: a renamed theme changes the document, not updated_at.
    version = hashlib.sha1(json.dumps(
        [document, dataset.state, dataset.download_count, dataset.name], sort_keys=True, default=str,
    ).encode()).hexdigest()[:16]
    return IndexEntry(
        id=dataset.id,
        name=dataset.name,
        title=document.get("title", dataset.title),
        tags_text=" ".join(facets["tags"]),
        notes=document.get("notes") or "",
        context_text=" ".join(context),
        resources_text=_resources_text(document),
        facets=facets,
        state=dataset.state,
        agency_id=dataset.agency_id,
        published=_epoch(dataset.published_at),
        updated=_epoch(updated),
        downloads=dataset.download_count or 0,
        name_sort=fold(document.get("title", dataset.title)),
        version=version,
    )
