"""Catalogue services: the one place where agencies, datasets and resources change.

Every function takes the acting user explicitly (never ``current_user``), validates
with the object's schema, authorizes through ``authz``, records the activity and
commits. The HTML views, the APIs, the CLI and the sample loader all call these.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select

from opendata import authz
from opendata.accounts.models import User
from opendata.activity.recorder import record
from opendata.authz import Action
from opendata.catalog.document import refresh_document
from opendata.catalog.metadata import load_metadata_schema, load_vocabularies
from opendata.catalog.models import (
    Agency, Dataset, DatasetState, License, Tag, Theme, dataset_theme, utcnow,
)
from opendata.catalog.schemas import AgencySchema, DatasetSchema
from opendata.errors import Conflict, NotFound, ValidationFailed
from opendata.extensions import db
from opendata.privacy import gate
from opendata.storage.files import file_store  # noqa: F401  (re-exported for the services' callers)
from opendata.text import slugify

log = logging.getLogger(__name__)


def load_payload(schema, payload: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    try:
        return schema.load(dict(payload), partial=partial)
    except ValidationError as error:
        raise ValidationFailed(fields=error.messages) from error


# --- vocabularies ---------------------------------------------------------------------

def sync_vocabularies() -> None:
    """Insert or update themes and licences from ``vocabularies.yaml``. Idempotent."""
    vocabularies = load_vocabularies()
    renamed_themes, renamed_licenses = [], []
    themes = {theme.name: theme for theme in db.session.scalars(select(Theme))}
    for position, item in enumerate(vocabularies["themes"]):
        theme = themes.get(item["name"]) or Theme(name=item["name"])
        if theme.id is not None and theme.title != item["title"]:
            renamed_themes.append(theme.id)
        theme.title, theme.title_en = item["title"], item.get("title_en")
        theme.description, theme.position = item.get("description"), position
        db.session.add(theme)
    licenses = {lic.id: lic for lic in db.session.scalars(select(License))}
    for position, item in enumerate(vocabularies["licenses"]):
        lic = licenses.get(item["id"]) or License(id=item["id"])
        if lic.title is not None and (lic.title, lic.url) != (item["title"], item.get("url")):
            renamed_licenses.append(lic.id)
        lic.title, lic.url, lic.is_open, lic.position = item["title"], item.get("url"), item["is_open"], position
        db.session.add(lic)
    db.session.flush()
    # Stored documents carry theme and licence titles: rebuild those that changed.
    affected = select(Dataset).where(
        Dataset.license_id.in_(renamed_licenses)
        | Dataset.id.in_(select(dataset_theme.c.dataset_id).where(dataset_theme.c.theme_id.in_(renamed_themes))))
    if renamed_themes or renamed_licenses:
        for dataset in db.session.scalars(affected):
            refresh_document(dataset)
    db.session.commit()


# --- agencies ----------------------------------------------------------------------------

def create_agency(actor: User, payload: Mapping[str, Any]) -> Agency:
    """Create an agency. Sysadmins only. Raises Forbidden, ValidationFailed."""
    authz.require(actor, Action.AGENCY_CREATE)
    data = load_payload(AgencySchema(), payload)
    if db.session.scalar(select(Agency.id).where(Agency.name == data["name"])):
        raise ValidationFailed(fields={"name": ["Đường dẫn này đã được một cơ quan khác sử dụng."]})
    agency = Agency(**data)
    db.session.add(agency)
    db.session.flush()
    record(actor, "agency:create", agency, agency_id=agency.id, after=AgencySchema().dump(agency))
    db.session.commit()
    log.info("agency %s created by %s", agency.id, actor.id)
    return agency


def update_agency(actor: User, agency: Agency, payload: Mapping[str, Any]) -> Agency:
    """Change an agency's details or settings (fields given only). Agency admins. Raises Forbidden, ValidationFailed."""
    authz.require(actor, Action.AGENCY_UPDATE, agency)
    data = load_payload(AgencySchema(), payload, partial=True)
    if "name" in data and data["name"] != agency.name:
        raise ValidationFailed(fields={"name": ["Không đổi được đường dẫn của cơ quan."]})
    before = AgencySchema().dump(agency)
    for key, value in data.items():
        setattr(agency, key, value)
    if any(before.get(key) != data[key] for key in ("title", "title_en", "description") if key in data):
        for dataset in agency.datasets:  # stored documents carry the agency's names
            refresh_document(dataset)
    record(actor, "agency:update", agency, agency_id=agency.id, before=before, after=AgencySchema().dump(agency))
    db.session.commit()
    return agency


def get_agency(name: str) -> Agency:
    """The agency with this URL name. Raises NotFound."""
    agency = db.session.scalar(select(Agency).where(Agency.name == name))
    if agency is None:
        raise NotFound("Không tìm thấy cơ quan này.")
    return agency


def get_theme(name: str) -> Theme:
    """The theme with this URL name. Raises NotFound."""
    theme = db.session.scalar(select(Theme).where(Theme.name == name))
    if theme is None:
        raise NotFound("Không tìm thấy lĩnh vực này.")
    return theme


# --- datasets ----------------------------------------------------------------------------

def _unique_name(base: str, exclude_id: str | None = None) -> str:
    base = base or "bo-du-lieu"
    candidate, counter = base, 1
    while True:
        query = select(Dataset.id).where(Dataset.name == candidate)
        if exclude_id:
            query = query.where(Dataset.id != exclude_id)
        if db.session.scalar(query) is None:
            return candidate
        counter += 1
        suffix = f"-{counter}"
        candidate = base[: 100 - len(suffix)] + suffix


def _tags(names: list[str]) -> list[Tag]:
    tags = []
    for name in names:
        name = name.lower()
        tag = db.session.scalar(select(Tag).where(Tag.name == name))
        if tag is None:
            tag = Tag(name=name)
            db.session.add(tag)
        if tag not in tags:
            tags.append(tag)
    return tags


def _themes(names: list[str]) -> list[Theme]:
    found = {theme.name: theme for theme in db.session.scalars(select(Theme).where(Theme.name.in_(names)))}
    missing = [name for name in names if name not in found]
    if missing:
        raise ValidationFailed(fields={"themes": [f"Không có lĩnh vực: {', '.join(missing)}."]})
    return [found[name] for name in names]


def _apply(dataset: Dataset, data: dict[str, Any]) -> None:
    """Copy validated fields onto the dataset: core fields as columns, the rest into extras."""
    extras = dict(dataset.extras or {})
    for spec in load_metadata_schema().dataset_fields:
        name = spec.field_name
        if name not in data or name in {"agency", "name"}:
            continue
        value = data[name]
        if spec.type == "themes":
            dataset.themes = _themes(value or [])
        elif spec.type == "tags":
            dataset.tags = _tags(value or [])
        elif spec.type == "license":
            dataset.license = db.session.get(License, value) if value else None
        elif spec.core:
            setattr(dataset, name, value)
        elif value in (None, [], ""):
            extras.pop(name, None)
        else:
            extras[name] = value.isoformat() if hasattr(value, "isoformat") else value
    dataset.extras = extras


def _agency_for(data: dict[str, Any]) -> Agency:
    agency = db.session.scalar(select(Agency).where(Agency.name == data["agency"]))
    if agency is None:
        raise ValidationFailed(fields={"agency": ["Không tìm thấy cơ quan này."]})
    return agency


def dump_dataset(dataset: Dataset) -> dict[str, Any]:
    """The dataset as its schema serialises it, without resources (for activity diffs)."""
    data = DatasetSchema(exclude=("resources",)).dump(dataset)
    return data


def create_dataset(actor: User, payload: Mapping[str, Any]) -> Dataset:
    """Create a draft dataset in an agency the actor edits for.

    Raises ValidationFailed (with per-field messages), Forbidden.
    """
    data = load_payload(DatasetSchema(), payload)
    agency = _agency_for(data)
    authz.require(actor, Action.DATASET_CREATE, agency)
    if data.get("name"):
        if db.session.scalar(select(Dataset.id).where(Dataset.name == data["name"])):
            raise ValidationFailed(fields={"name": ["Đường dẫn này đã được dùng cho bộ dữ liệu khác."]})
        name = data["name"]
    else:
        name = _unique_name(slugify(data["title"]))
    dataset = Dataset(name=name, agency=agency, state=DatasetState.DRAFT, creator_id=actor.id, extras={})
    db.session.add(dataset)
    _apply(dataset, data)
    db.session.flush()
    refresh_document(dataset)
    record(actor, "dataset:create", dataset, agency_id=agency.id, after=dump_dataset(dataset))
    db.session.commit()
    log.info("dataset %s created by %s", dataset.id, actor.id)
    return dataset


def update_dataset(actor: User, dataset: Dataset, payload: Mapping[str, Any], *, partial: bool = False) -> Dataset:
    """Edit a dataset's metadata (``partial`` for PATCH). Raises Forbidden, NotFound, ValidationFailed."""
    authz.require(actor, Action.DATASET_UPDATE, dataset)
    data = load_payload(DatasetSchema(), payload, partial=partial)
    before = dump_dataset(dataset)
    if "agency" in data and data["agency"] != dataset.agency.name:
        agency = _agency_for(data)
        authz.require(actor, Action.DATASET_CREATE, agency)
        if dataset.state != DatasetState.DRAFT:
            # A submitted or published dataset leaves one agency's review for another's:
            # both sides' publishers must agree (withdraw here, publish there).
            authz.require(actor, Action.DATASET_WITHDRAW, dataset)
            authz.require(actor, Action.DATASET_PUBLISH, agency)
        dataset.agency = agency
    if data.get("name") and data["name"] != dataset.name:
        if db.session.scalar(select(Dataset.id).where(Dataset.name == data["name"])):
            raise ValidationFailed(fields={"name": ["Đường dẫn này đã được dùng cho bộ dữ liệu khác."]})
        dataset.name = data["name"]
    if not partial:
        # A full replacement clears optional extras that the payload leaves out.
        dataset.extras = {key: value for key, value in (dataset.extras or {}).items() if key in data}
    _apply(dataset, data)
    problems = gate.classification_problems(dataset)
    if dataset.state in (DatasetState.PENDING, DatasetState.PUBLISHED) and problems:
        db.session.rollback()
        raise Conflict("Bộ dữ liệu đang chờ duyệt hoặc đã công bố phải giữ phân loại «Dữ liệu mở». "
                       "Hãy ngừng công bố trước khi đổi phân loại.", fields=problems)
    dataset.updated_at = utcnow()
    db.session.flush()
    refresh_document(dataset)
    record(actor, "dataset:update", dataset, agency_id=dataset.agency_id, before=before, after=dump_dataset(dataset))
    db.session.commit()
    return dataset


def require_editable(actor: User, dataset: Dataset, *, upload: bool = False) -> None:
    """Raise unless the actor may edit the dataset's metadata (or, with ``upload``, its files)."""
    authz.require(actor, Action.RESOURCE_UPLOAD if upload else Action.DATASET_UPDATE, dataset)


def get_dataset(actor: User | None, name_or_id: str) -> Dataset:
    """The dataset if the actor may see it. Raises NotFound otherwise, as for a missing one."""
    # By name first: an OR over both columns would defeat the indexes. Pages read the
    # stored document (catalog/document.py), so no relationship is loaded here.
    dataset = db.session.scalar(select(Dataset).where(Dataset.name == name_or_id))
    if dataset is None and len(name_or_id) == 36:
        dataset = db.session.get(Dataset, name_or_id)
    if dataset is None or not authz.can(actor, Action.DATASET_READ, dataset):
        raise NotFound("Không tìm thấy bộ dữ liệu này.")
    return dataset
