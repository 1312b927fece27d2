"""Catalogue models: agencies, themes, licences, tags, datasets and resources.

Fields that the metadata schema (``metadata_schema.yaml``) declares beyond the
core columns are kept in each row's ``extras`` JSON, so adding a field to the
YAML needs no migration.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opendata.extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


class DatasetState(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class Agency(db.Model):
    """A publishing body (CKAN: organization)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    title_en: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(500))
    # When set, the agency's editors publish directly instead of submitting for review.
    editors_publish: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    datasets: Mapped[list[Dataset]] = relationship(back_populates="agency")


class Theme(db.Model):
    """One of the plan's nine priority sectors (CKAN: group)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    title_en: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)


class License(db.Model):
    """A licence; ids follow CKAN's (``cc-by``, ``odc-odbl``...)."""

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(500))
    is_open: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class Tag(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


dataset_theme = Table(
    "dataset_theme",
    db.metadata,
    Column("dataset_id", ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_id", ForeignKey("theme.id", ondelete="CASCADE"), primary_key=True),
)

dataset_tag = Table(
    "dataset_tag",
    db.metadata,
    Column("dataset_id", ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
)


class Dataset(db.Model):
    """A dataset (CKAN: package), owned by one agency."""

    __table_args__ = (Index("ix_dataset_state_published", "state", "published_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id"), index=True)
    license_id: Mapped[str | None] = mapped_column(ForeignKey("license.id"))
    state: Mapped[str] = mapped_column(String(20), default=DatasetState.DRAFT)
    extras: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The dataset as its page and API show it (see catalog/document.py): rebuilt by the
    # services in the transaction of every change, so a read is one row, not five queries.
    document: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    download_count: Mapped[int] = mapped_column(BigInteger, default=0)
    creator_id: Mapped[str | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    published_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    # An agency admin's decision to publish despite personal-data findings:
    # {reason, by, at, resources: {resource id: sha256}}. It covers exactly those files.
    privacy_override: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    agency: Mapped[Agency] = relationship(back_populates="datasets")
    license: Mapped[License | None] = relationship()
    themes: Mapped[list[Theme]] = relationship(secondary=dataset_theme, order_by=Theme.position)
    tags: Mapped[list[Tag]] = relationship(secondary=dataset_tag, order_by=Tag.name)
    resources: Mapped[list[Resource]] = relationship(
        back_populates="dataset", order_by="Resource.position", cascade="all, delete-orphan"
    )

    @property
    def is_published(self) -> bool:
        return self.state == DatasetState.PUBLISHED and self.deleted_at is None


class Resource(db.Model):
    """A file or link of a dataset, with its checksum and data dictionary."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str | None] = mapped_column(String(50), index=True)
    media_type: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2000))  # for links to files kept elsewhere
    storage_key: Mapped[str | None] = mapped_column(String(255))  # for uploaded files
    filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # Frictionless Table Schema
    encoding: Mapped[str | None] = mapped_column(String(40))  # text files: the codec detected on upload
    # The personal-data scan of a tabular file (privacy/gate.py): status, sha256, report.
    privacy_scan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    extras: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    download_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="resources")

    @property
    def is_upload(self) -> bool:
        return self.storage_key is not None


__all__ = [
    "Agency", "Dataset", "DatasetState", "License", "Resource", "Tag", "Theme",
    "dataset_tag", "dataset_theme", "new_id", "utcnow",
]
