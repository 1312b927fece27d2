"""Marshmallow schemas of datasets and resources, generated from the metadata schema.

One schema per object, used to validate every write (HTML forms, CLI, sample
loader, APIs) and to serialise for every reader. Error messages are Vietnamese.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from opendata.catalog.metadata import FieldSpec, load_metadata_schema, load_vocabularies, schema_path, vocabulary_values
from opendata.text import nfc

MESSAGES = {
    "required": "Trường này là bắt buộc.",
    "null": "Trường này không được để trống.",
}
# Frictionless Table Schema types, with the words a Vietnamese publisher reads for them.
TABLE_TYPE_LABELS = {
    "string": "Văn bản", "integer": "Số nguyên", "number": "Số thập phân", "boolean": "Đúng/sai",
    "date": "Ngày", "datetime": "Ngày giờ", "time": "Giờ", "year": "Năm", "yearmonth": "Tháng/năm",
    "duration": "Khoảng thời gian", "geopoint": "Tọa độ", "geojson": "Hình học GeoJSON",
    "object": "Đối tượng JSON", "array": "Danh sách JSON", "any": "Bất kỳ",
}
TABLE_SCHEMA_TYPES = set(TABLE_TYPE_LABELS)


class Text(fields.String):
    """A string normalised to NFC and stripped; an empty optional value loads as None."""

    default_error_messages = {"invalid": "Phải là một chuỗi ký tự."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = nfc(super()._deserialize(value, attr, data, **kwargs)).strip()
        if text == "":
            if self.required:
                raise ValidationError(MESSAGES["required"])
            return None
        return text

    def _validate(self, value):
        if value is not None:  # an emptied optional value has nothing to validate
            super()._validate(value)


class Email(Text):
    default_error_messages = {"invalid": "Địa chỉ thư điện tử không hợp lệ."}
    _pattern = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is not None and not self._pattern.match(text):
            raise self.make_error("invalid")
        return text


class Url(Text):
    default_error_messages = {"invalid": "Đường dẫn không hợp lệ (cần bắt đầu bằng http:// hoặc https://)."}
    _pattern = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is not None and not self._pattern.match(text):
            raise self.make_error("invalid")
        return text


class TextList(fields.List):
    """A list of strings; a single string of comma-separated items is accepted too (forms)."""

    default_error_messages = {"invalid": "Phải là một danh sách."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = [part for part in value.split(",")]
        items = super()._deserialize(value, attr, data, **kwargs)
        seen: list[str] = []
        for item in items:
            if item is not None and item not in seen:
                seen.append(item)
        return seen


def _one_of(values: list[str]) -> validate.OneOf:
    return validate.OneOf(values, error="Giá trị không hợp lệ; chọn một trong: {choices}.")


def _validate_table_schema(value: dict[str, Any]) -> None:
    columns = value.get("fields")
    if not isinstance(columns, list):
        raise ValidationError("Từ điển dữ liệu phải có danh sách cột `fields`.")
    names = set()
    for index, column in enumerate(columns, start=1):
        if not isinstance(column, dict) or not isinstance(column.get("name"), str) or not column["name"].strip():
            raise ValidationError(f"Cột thứ {index} phải có tên (`name`).")
        if column["name"] in names:
            raise ValidationError(f"Tên cột bị trùng: {column['name']}.")
        names.add(column["name"])
        if column.get("type", "string") not in TABLE_SCHEMA_TYPES:
            raise ValidationError(f"Kiểu dữ liệu của cột {column['name']} không hợp lệ: {column.get('type')}.")


def _common(spec: FieldSpec) -> dict[str, Any]:
    options: dict[str, Any] = {
        "required": spec.required,
        "allow_none": not spec.required,
        "error_messages": dict(MESSAGES),
        "metadata": {"spec": spec},
    }
    if spec.dump_only:
        options["dump_only"] = True
    return options


def build_field(spec: FieldSpec) -> fields.Field:
    """The marshmallow field for one declared metadata field."""
    common = _common(spec)
    length = [validate.Length(max=spec.max_length, error="Tối đa {max} ký tự.")] if spec.max_length else []
    if spec.type in {"text", "markdown", "agency"}:
        validators = list(length)
        if spec.pattern:
            validators.append(validate.Regexp(spec.pattern, error="Chỉ gồm chữ thường không dấu, số và dấu gạch ngang."))
        return Text(validate=validators, **common)
    if spec.type == "email":
        return Email(validate=length, **common)
    if spec.type == "url":
        return Url(validate=length, **common)
    if spec.type == "date":
        return fields.Date(**{**common, "error_messages": {**MESSAGES, "invalid": "Ngày không hợp lệ, dùng định dạng YYYY-MM-DD."}})
    if spec.type == "integer":
        return fields.Integer(**{**common, "error_messages": {**MESSAGES, "invalid": "Phải là số nguyên."}})
    if spec.type == "choice":
        return Text(validate=[_one_of(vocabulary_values(spec.vocabulary))], **common)
    if spec.type == "license":
        return Text(validate=[_one_of([item["id"] for item in load_vocabularies()["licenses"]])], **common)
    if spec.type == "multichoice":
        return TextList(Text(validate=[_one_of(vocabulary_values(spec.vocabulary))]), **common)
    if spec.type == "themes":
        return TextList(Text(validate=[_one_of([item["name"] for item in load_vocabularies()["themes"]])]), **common)
    if spec.type == "tags":
        return TextList(Text(validate=[validate.Length(max=100, error="Mỗi từ khóa tối đa {max} ký tự.")]), **common)
    if spec.type == "list":
        item_length = spec.item_max_length or 255
        return TextList(Text(validate=[validate.Length(max=item_length, error="Mỗi mục tối đa {max} ký tự.")]), **common)
    if spec.type == "json":
        return fields.Dict(validate=_validate_table_schema,
                           **{**common, "error_messages": {**MESSAGES, "invalid": "Phải là một đối tượng JSON."}})
    raise ValueError(f"unsupported field type {spec.type}")


class MetadataSchemaBase(Schema):
    """Reads core fields from model attributes and the others from ``extras``."""

    class Meta:
        unknown = RAISE

    error_messages = {
        "unknown": "Trường không được hỗ trợ.",
        "type": "Dữ liệu gửi lên phải là một đối tượng.",
    }

    def get_attribute(self, obj, attr, default):
        if isinstance(obj, dict):
            return obj.get(attr, default)
        spec: FieldSpec | None = self.fields[attr].metadata.get("spec") if attr in self.fields else None
        if spec is not None and not spec.core:
            value = (obj.extras or {}).get(attr, default)
            if spec.type == "date" and isinstance(value, str):
                return date.fromisoformat(value)  # extras hold JSON, so dates are ISO strings
            return value
        if spec is not None and spec.type == "agency":
            return obj.agency.name if obj.agency else default
        if spec is not None and spec.type in {"themes", "tags"}:
            return [item.name for item in getattr(obj, attr)]
        return super().get_attribute(obj, attr, default)

    @validates_schema
    def _coverage_in_order(self, data: dict[str, Any], **_kwargs) -> None:
        start, end = data.get("temporal_start"), data.get("temporal_end")
        if start and end and end < start:
            raise ValidationError("Ngày kết thúc phải sau ngày bắt đầu.", field_name="temporal_end")


def _system_fields(kind: str) -> dict[str, fields.Field]:
    system = {
        "id": fields.String(dump_only=True),
        "created_at": fields.DateTime(dump_only=True),
        "updated_at": fields.DateTime(dump_only=True),
        "download_count": fields.Integer(dump_only=True),
    }
    if kind == "dataset":
        system.update(state=fields.String(dump_only=True), published_at=fields.DateTime(dump_only=True))
    else:
        system.update(position=fields.Integer(dump_only=True), filename=fields.String(dump_only=True))
    return system


def resource_schema_class() -> type[Schema]:
    return _resource_schema_class(schema_path())


def dataset_schema_class() -> type[Schema]:
    return _dataset_schema_class(schema_path())


@cache
def _resource_schema_class(path: Path) -> type[Schema]:
    specs = load_metadata_schema(path).resource_fields
    declared = {spec.field_name: build_field(spec) for spec in specs}
    return MetadataSchemaBase.from_dict({**declared, **_system_fields("resource")}, name="ResourceSchema")


@cache
def _dataset_schema_class(path: Path) -> type[Schema]:
    specs = load_metadata_schema(path).dataset_fields
    declared = {spec.field_name: build_field(spec) for spec in specs}
    declared["resources"] = fields.List(fields.Nested(_resource_schema_class(path)), dump_only=True)
    return MetadataSchemaBase.from_dict({**declared, **_system_fields("dataset")}, name="DatasetSchema")


def DatasetSchema(**kwargs) -> Schema:  # noqa: N802 - reads like the class it builds
    return dataset_schema_class()(**kwargs)


def ResourceSchema(**kwargs) -> Schema:  # noqa: N802
    return resource_schema_class()(**kwargs)


class AgencySchema(Schema):
    """An agency (CKAN: organization)."""

    class Meta:
        unknown = RAISE

    error_messages = MetadataSchemaBase.error_messages

    id = fields.String(dump_only=True)
    name = Text(required=True, error_messages=MESSAGES, validate=[
        validate.Length(max=100, error="Tối đa {max} ký tự."),
        validate.Regexp(r"^[a-z0-9][a-z0-9-]*$", error="Chỉ gồm chữ thường không dấu, số và dấu gạch ngang."),
    ])
    title = Text(required=True, error_messages=MESSAGES, validate=validate.Length(max=255, error="Tối đa {max} ký tự."))
    title_en = Text(allow_none=True, validate=validate.Length(max=255, error="Tối đa {max} ký tự."))
    description = Text(allow_none=True)
    email = Email(allow_none=True)
    url = Url(allow_none=True)
    editors_publish = fields.Boolean(load_default=False, error_messages=MESSAGES)
    created_at = fields.DateTime(dump_only=True)
