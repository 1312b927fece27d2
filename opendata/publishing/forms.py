"""Turn HTML form posts into service payloads, field by field as the metadata schema declares them.

The forms are generated from the same YAML as the marshmallow schemas, and the
services validate: this module only maps widgets to values (checkbox groups to
lists, one line per item, comma-separated tags), so there is one set of rules.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from opendata.catalog.metadata import FieldSpec, load_metadata_schema

LIST_TYPES = {"themes", "multichoice"}


def editable_fields(kind: str = "dataset") -> list[FieldSpec]:
    schema = load_metadata_schema()
    specs = schema.dataset_fields if kind == "dataset" else schema.resource_fields
    return [spec for spec in specs if not spec.dump_only and spec.type != "json"]


def _value(spec: FieldSpec, form: MultiDict) -> Any:
    if spec.type in LIST_TYPES:
        return [value for value in form.getlist(spec.field_name) if value.strip()]
    raw = form.get(spec.field_name, "")
    if spec.type == "tags":
        return [item.strip() for item in raw.replace("\n", ",").split(",") if item.strip()]
    if spec.type == "list":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    raw = raw.strip()
    return raw or None


def dataset_payload(form: MultiDict) -> dict[str, Any]:
    """The dataset fields of a posted form; empty optional fields are sent as None (cleared)."""
    payload = {spec.field_name: _value(spec, form) for spec in editable_fields("dataset")}
    if not payload.get("name"):
        payload.pop("name", None)  # made from the title
    return {key: value for key, value in payload.items() if value is not None or key != "agency"}


def resource_payload(form: MultiDict) -> dict[str, Any]:
    payload = {spec.field_name: _value(spec, form) for spec in editable_fields("resource")}
    return {key: value for key, value in payload.items() if value is not None}


def table_schema(form: MultiDict, columns: list[str]) -> dict[str, Any]:
    """A Frictionless Table Schema from the data dictionary rows of a resource form."""
    fields = []
    for index, name in enumerate(columns):
        field: dict[str, Any] = {"name": name, "type": form.get(f"col-{index}-type") or "string"}
        for key in ("title", "description", "unit"):
            value = (form.get(f"col-{index}-{key}") or "").strip()
            if value:
                field[key] = value
        fields.append(field)
    return {"fields": fields}


def chart_choice(form: MultiDict) -> dict[str, str] | None:
    """The default chart picked on a resource form; None when the portal is to choose."""
    kind = (form.get("chart-type") or "").strip()
    if not kind:
        return None
    return {"type": kind, "x": form.get("chart-x") or "", "y": form.get("chart-y") or ""}


def form_values(data: dict[str, Any]) -> dict[str, Any]:
    """Values for re-displaying a form: lists of tags joined with commas, lists one per line."""
    values = dict(data)
    for spec in editable_fields("dataset"):
        value = values.get(spec.field_name)
        if spec.type == "tags" and isinstance(value, list):
            values[spec.field_name] = ", ".join(value)
        elif spec.type == "list" and isinstance(value, list):
            values[spec.field_name] = "\n".join(value)
    return values
