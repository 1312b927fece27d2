"""The metadata schema and controlled vocabularies, read from the package's YAML files."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import current_app, has_app_context

HERE = Path(__file__).parent
FIELD_TYPES = {
    "text", "markdown", "email", "url", "date", "integer", "choice", "multichoice",
    "list", "agency", "themes", "tags", "license", "json",
}


@dataclass(frozen=True)
class FieldSpec:
    """One declared metadata field."""

    field_name: str
    type: str
    label: dict[str, str]
    help: dict[str, str] = field(default_factory=dict)
    required: bool = False
    core: bool = False
    dump_only: bool = False
    dcat: str | None = None
    vocabulary: str | None = None
    max_length: int | None = None
    item_max_length: int | None = None
    pattern: str | None = None

    @property
    def label_vi(self) -> str:
        return self.label.get("vi") or self.field_name

    @property
    def help_vi(self) -> str:
        return self.help.get("vi", "")


@dataclass(frozen=True)
class MetadataSchema:
    dataset_fields: tuple[FieldSpec, ...]
    resource_fields: tuple[FieldSpec, ...]

    def dataset_field(self, name: str) -> FieldSpec:
        return next(f for f in self.dataset_fields if f.field_name == name)


def _specs(entries: list[dict[str, Any]], where: str) -> tuple[FieldSpec, ...]:
    specs = []
    for entry in entries:
        spec = FieldSpec(**entry)
        if spec.type not in FIELD_TYPES:
            raise ValueError(f"{where}: field {spec.field_name!r} has unknown type {spec.type!r}")
        specs.append(spec)
    return tuple(specs)


DEFAULT_SCHEMA = HERE / "metadata_schema.yaml"


def schema_path() -> Path:
    """The metadata schema in force: ``OPENDATA_METADATA_SCHEMA`` if set, else the package's."""
    if has_app_context() and current_app.config.get("METADATA_SCHEMA"):
        return Path(current_app.config["METADATA_SCHEMA"])
    return DEFAULT_SCHEMA


def load_metadata_schema(path: Path | None = None) -> MetadataSchema:
    return _load_schema_file(path or schema_path())


@cache
def _load_schema_file(path: Path) -> MetadataSchema:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return MetadataSchema(
        dataset_fields=_specs(raw["dataset_fields"], f"{path.name} dataset_fields"),
        resource_fields=_specs(raw["resource_fields"], f"{path.name} resource_fields"),
    )


@cache
def load_vocabularies(path: Path = HERE / "vocabularies.yaml") -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def vocabulary_values(name: str) -> list[str]:
    """The allowed values of a choice vocabulary (``frequencies``, ``languages``...)."""
    return [item["value"] for item in load_vocabularies()[name]]


def vocabulary_label(name: str, value: str | None) -> str | None:
    """The Vietnamese label of a vocabulary value, or the value itself if unknown."""
    for item in load_vocabularies().get(name, []):
        if item.get("value") == value:
            return item["label"]
    return value
