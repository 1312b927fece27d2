"""Test data built through the services, so every object respects the same rules."""

from __future__ import annotations

import io
from typing import Any

import factory

from opendata.catalog import services as catalog
from opendata.catalog import resources, workflow
from opendata.accounts import services as accounts
from opendata.accounts.models import User
from opendata.catalog.models import Agency, Dataset, Resource


class AgencyPayload(factory.DictFactory):
    name = factory.Sequence(lambda n: f"co-quan-{n}")
    title = factory.Sequence(lambda n: f"Cơ quan thử nghiệm số {n}")
    description = "Cơ quan dùng trong kiểm thử."


class DatasetPayload(factory.DictFactory):
    title = factory.Sequence(lambda n: f"Bộ dữ liệu thử nghiệm số {n}")
    notes = "Mô tả **thử nghiệm** của bộ dữ liệu."
    license_id = "cc-by"
    themes = ["hanh-chinh-cong"]
    tags = ["thử nghiệm"]
    update_frequency = "annual"
    access_level = "open"
    importance = "other"


class UserPayload(factory.DictFactory):
    name = factory.Sequence(lambda n: f"nguoi-dung-{n}")
    email = factory.Sequence(lambda n: f"nguoi{n}@example.org")
    password = "mat-khau-du-dai"
    fullname = factory.Sequence(lambda n: f"Người dùng {n}")


def make_agency(actor: User, **overrides: Any) -> Agency:
    return catalog.create_agency(actor, AgencyPayload(**overrides))


def make_user(actor: User, agency: Agency | None = None, role: str | None = None, **overrides: Any) -> User:
    user = accounts.create_user(actor, UserPayload(**overrides))
    if agency is not None and role is not None:
        accounts.add_member(actor, agency, user, role)
    return user


def make_dataset(actor: User, agency: Agency, *, published: bool = True, **overrides: Any) -> Dataset:
    dataset = catalog.create_dataset(actor, DatasetPayload(agency=agency.name, **overrides))
    if published:
        workflow.publish(actor, dataset)
    return dataset


def make_file_resource(actor: User, dataset: Dataset, content: bytes, filename: str = "du-lieu.csv",
                       **overrides: Any) -> Resource:
    payload = {"name": overrides.pop("name", filename), **overrides}
    return resources.add_resource(actor, dataset, payload, resources.Upload(io.BytesIO(content), filename))


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    """A real XLSX workbook with ``rows`` on its first sheet (uploads are sniffed by content)."""
    import openpyxl

    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
