"""A dataset as a Frictionless Data Package (Data Package v1, Table Schema for tabular files).

``package_for(actor, dataset, in_zip=...)`` decides what a reader gets and describes it.
The caller has read the dataset through ``catalog.services.get_dataset``, so the reader
may see it; each file then goes through ``resources.require_download`` as a single
download would, and a file the non-sensitive gate has not cleared for this reader is
left out of the descriptor and the archive alike, without a trace. Linked resources
are described with their URL as ``path`` and never fetched.

Inside the ZIP a file's ``path`` is ``data/<its name>``; in the descriptor served on its
own (``/dataset/<name>/datapackage.json``) it is the file's absolute download URL, so
either can be opened by Frictionless tools as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from flask import current_app, url_for

from opendata.accounts.models import User
from opendata.catalog import resources
from opendata.catalog.models import Dataset, Resource
from opendata.errors import Forbidden
from opendata.storage.files import safe_filename
from opendata.text import slugify

DATA_FOLDER = "data"
# What Data Package readers expect in `encoding` (IANA names) for the codecs uploads are detected as.
IANA_ENCODINGS = {"utf-8-sig": "utf-8", "cp1258": "windows-1258", "utf-16": "utf-16"}
# Text compresses several-fold; archives, spreadsheets (zipped XML), PDFs and images barely at all.
COMPRESSIBLE_FORMATS = frozenset({"CSV", "TSV", "TXT", "JSON", "GEOJSON", "XML", "HTML", "KML", "GML", "SQL", "MD"})


@dataclass(frozen=True)
class PackagedFile:
    """One stored file going into the archive."""

    resource_id: str
    path: Path
    arcname: str
    compress: bool


@dataclass(frozen=True)
class Package:
    """The descriptor, and the stored files it names (empty unless built for a ZIP)."""

    descriptor: dict[str, Any]
    files: list[PackagedFile]


def package_for(actor: User | None, dataset: Dataset, *, in_zip: bool) -> Package:
    """What ``actor`` may take of ``dataset``, as a Data Package descriptor and its files.

    Needs a request context (absolute URLs). Raises nothing: unreadable files are omitted.
    """
    names: set[str] = set()
    arcnames: set[str] = set()
    entries: list[dict[str, Any]] = []
    files: list[PackagedFile] = []
    for resource in dataset.resources:
        if not (resource.is_upload or resource.url):
            continue
        try:
            resources.require_download(actor, resource)
        except Forbidden:
            continue
        entry = _resource_entry(resource, _unique(slugify(resource.name).lower() or "tai-nguyen", names))
        if resource.is_upload:
            if in_zip:
                arcname = f"{DATA_FOLDER}/{_unique_filename(resource.filename or resource.name, arcnames)}"
                entry["path"] = arcname
                files.append(PackagedFile(resource.id, resources.resource_path(resource), arcname,
                                          (resource.format or "").upper() in COMPRESSIBLE_FORMATS))
            else:
                entry["path"] = url_for("catalog.resource_download", name=dataset.name, resource_id=resource.id,
                                        filename=resource.filename, _external=True)
        entries.append(_compact(entry))
    return Package(_descriptor(dataset, entries), files)


def _descriptor(dataset: Dataset, entries: list[dict[str, Any]]) -> dict[str, Any]:
    extras = dataset.extras or {}
    page = url_for("catalog.dataset_detail", name=dataset.name, _external=True)
    agency = dataset.agency
    contributors: list[dict[str, Any]] = [{
        "title": agency.title, "role": "publisher", "email": agency.email,
        "path": url_for("catalog.agency_detail", name=agency.name, _external=True)}]
    if extras.get("contact_name") or extras.get("contact_email"):
        contributors.append({"title": extras.get("contact_name") or extras["contact_email"],
                             "email": extras.get("contact_email"), "role": "maintainer"})
    sources = [{"title": current_app.config["SITE_TITLE"], "path": page}]
    if extras.get("source"):
        sources.insert(0, {"title": extras["source"]})
    descriptor: dict[str, Any] = {
        "name": dataset.name,
        "id": dataset.id,
        "title": dataset.title,
        "description": dataset.notes,
        "homepage": page,
        "version": extras.get("version"),
        "created": _timestamp(dataset.updated_at),
        "keywords": [tag.name for tag in dataset.tags],
        "licenses": ([_compact({"name": dataset.license.id, "title": dataset.license.title,
                                "path": dataset.license.url})] if dataset.license else []),
        "sources": sources,
        "contributors": [_compact(item) for item in contributors],
    }
    # `resources` stays even when empty (no file this reader may take), so readers find the key.
    return {**_compact(descriptor), "resources": entries}


def _resource_entry(resource: Resource, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "title": resource.name,
        "description": resource.description,
        "path": resource.url,
        "format": (resource.format or "").lower() or None,
        "mediatype": resource.media_type,
    }
    if resource.is_upload:
        entry["bytes"] = resource.size
        entry["hash"] = f"sha256:{resource.sha256}" if resource.sha256 else None
        if resource.encoding:
            entry["encoding"] = IANA_ENCODINGS.get(resource.encoding, resource.encoding)
    if resource.schema and resource.schema.get("fields"):
        entry["schema"] = resource.schema
    return entry


def _unique(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is free; marks it taken."""
    candidate, counter = base, 1
    while candidate in taken:
        counter += 1
        candidate = f"{base}-{counter}"
    taken.add(candidate)
    return candidate


def _unique_filename(filename: str, taken: set[str]) -> str:
    """A safe file name, unique ignoring case (Windows and macOS would merge ``A.csv`` and ``a.csv``)."""
    name = safe_filename(filename)
    suffix = PurePosixPath(name).suffix
    stem = name[: len(name) - len(suffix)] if suffix else name
    candidate, counter = name, 1
    while candidate.casefold() in taken:
        counter += 1
        candidate = f"{stem} ({counter}){suffix}"
    taken.add(candidate.casefold())
    return candidate


def _compact(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value not in (None, "", [])}


def _timestamp(value: datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() + "Z" if value else None
