"""What the REST API answers, as marshmallow schemas, and the functions that build each answer.

A dataset or resource is the catalogue's own schema (``DatasetSchema``,
``ResourceSchema``, generated from the metadata schema YAML) extended with the
fields a client needs to display it: state, agency and licence titles, download
URLs. The same classes feed the OpenAPI document, so the document describes
exactly what is sent. A dataset is built from its stored document (one row; see
``catalog/document.py``), not from its relationships.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import url_for
from marshmallow import EXCLUDE, Schema, fields, validate

from opendata.api.auth import api_actor
from opendata.catalog.document import shown_resources
from opendata.accounts.models import ApiToken as ApiTokenRow, Membership, Role, User
from opendata.accounts.schemas import MembershipSchema, UserSchema
from opendata.activity.queries import Entry
from opendata.catalog.document import build_document
from opendata.catalog.models import Agency, Dataset, DatasetState, Theme
from opendata.catalog.schemas import AgencySchema, Text, dataset_schema_class, resource_schema_class
from opendata.catalog.workflow import state_of
from opendata.search.base import FACETS, SORT_ALIASES, SORTS

STATES = [state.value for state in DatasetState] + ["deleted"]
TIMESTAMPS = ("created_at", "updated_at", "published_at")


def _utc(value: str | None) -> str | None:
    """Stored times are naive UTC; the API says so (RFC 3339)."""
    if value and "+" not in value[10:] and not value.endswith("Z"):
        return value + "Z"
    return value


# --- datasets and resources --------------------------------------------------------------

@cache
def _resource_class(base: type[Schema]) -> type[Schema]:
    return type("Resource", (base,), {
        "__doc__": "Tài nguyên (tệp tải lên hoặc liên kết) của một bộ dữ liệu. A file or link of a dataset.",
        "created_at": fields.DateTime(dump_only=True),
        "updated_at": fields.DateTime(dump_only=True),
        "filename": fields.String(dump_only=True, allow_none=True),
        "dataset": fields.String(dump_only=True, metadata={"description": "Tên (đường dẫn) của bộ dữ liệu."}),
        "is_upload": fields.Boolean(dump_only=True),
        "description_html": fields.String(dump_only=True),
        "download_url": fields.String(dump_only=True, allow_none=True, metadata={
            "description": "Địa chỉ tải tệp (tệp tải lên) hoặc đường dẫn ngoài. Download address."}),
        "api_url": fields.String(dump_only=True),
        "datastore_active": fields.Boolean(dump_only=True, metadata={
            "description": "Các dòng của bảng truy vấn được qua `rows_url`. The table's rows can be queried."}),
        "rows_url": fields.String(dump_only=True, allow_none=True, metadata={
            "description": "API dòng dữ liệu (bảng đã nạp). Row API of a loaded table."}),
    })


@cache
def _dataset_class(base: type[Schema], resource_base: type[Schema]) -> type[Schema]:
    return type("Dataset", (base,), {
        "__doc__": "Bộ dữ liệu, theo lược đồ siêu dữ liệu của cổng. A dataset, as the metadata schema describes it.",
        "state": fields.String(dump_only=True, validate=validate.OneOf(STATES), metadata={
            "description": "Trạng thái: draft, pending, published, withdrawn, deleted (thùng rác)."}),
        "created_at": fields.DateTime(dump_only=True),
        "updated_at": fields.DateTime(dump_only=True),
        "published_at": fields.DateTime(dump_only=True, allow_none=True),
        "agency_title": fields.String(dump_only=True, metadata={"description": "Tên cơ quan xuất bản."}),
        "license_title": fields.String(dump_only=True, allow_none=True),
        "notes_html": fields.String(dump_only=True),
        "resources": fields.List(fields.Nested(_resource_class(resource_base)), dump_only=True),
        "html_url": fields.String(dump_only=True),
        "api_url": fields.String(dump_only=True),
    })


def dataset_schema() -> type[Schema]:
    """The dataset as the API reads and writes it (read-only fields are marked ``dump_only``)."""
    return _dataset_class(dataset_schema_class(), resource_schema_class())


def resource_schema() -> type[Schema]:
    return _resource_class(resource_schema_class())


@cache
def _declared(schema_class: type[Schema]) -> frozenset[str]:
    return frozenset(schema_class._declared_fields)


def resource_out(entry: dict[str, Any], dataset_name: str) -> dict[str, Any]:
    """A resource from its entry in the dataset's stored document."""
    data = {key: value for key, value in entry.items() if key in _declared(resource_schema())}
    for key in ("created_at", "updated_at"):
        data[key] = _utc(data.get(key))
    data["dataset"] = dataset_name
    if entry.get("is_upload"):
        data["download_url"] = url_for("catalog.resource_download", name=dataset_name, resource_id=entry["id"],
                                       filename=entry.get("filename") or "tep", _external=True)
    else:
        data["download_url"] = entry.get("url")
    data["api_url"] = url_for("rest.resources.resource_detail", resource_id=entry["id"], _external=True)
    data["datastore_active"] = bool(entry.get("datastore_active"))
    data["rows_url"] = url_for("rest.rows.resource_rows", resource_id=entry["id"], _external=True) \
        if data["datastore_active"] else None
    return data


def document_of(dataset: Dataset) -> dict[str, Any]:
    """The stored document; built on the spot for a row that predates it."""
    return dataset.document or build_document(dataset)


def dataset_out(dataset: Dataset) -> dict[str, Any]:
    """The dataset as the API shows it, from its stored document plus the live columns."""
    document = document_of(dataset)
    data = {key: value for key, value in document.items() if key in _declared(dataset_schema())}
    agency, licence = document["agency"], document.get("license")
    data["agency"], data["agency_title"] = agency["name"], agency["title"]
    data["license_title"] = licence["title"] if licence else None
    data["themes"] = [theme["name"] for theme in document.get("themes", [])]
    data["tags"] = [tag["name"] for tag in document.get("tags", [])]
    data["state"] = state_of(dataset)
    data["download_count"] = dataset.download_count
    for key in TIMESTAMPS:
        data[key] = _utc(data.get(key))
    data["resources"] = [resource_out(entry, dataset.name) for entry in shown_resources(dataset, api_actor())]
    data["html_url"] = url_for("catalog.dataset_detail", name=dataset.name, _external=True)
    data["api_url"] = url_for("rest.datasets.dataset_detail", name=dataset.name, _external=True)
    return data


# --- query parameters --------------------------------------------------------------------

def _facet_field(name: str) -> fields.List:
    return fields.List(fields.String(validate=validate.Length(max=200)), metadata={
        "description": f"Lọc theo «{name}» (lặp lại để chọn nhiều giá trị). Facet filter, repeatable."})


class _Query(Schema):
    class Meta:
        unknown = EXCLUDE  # a cache-buster or tracking parameter is no error


DatasetQuery = _Query.from_dict({
    "q": fields.String(load_default="", validate=validate.Length(max=500), metadata={
        "description": "Từ khóa tìm kiếm, có hoặc không dấu (`da lat` tìm thấy `Đà Lạt`). Full-text query."}),
    **{name: _facet_field(name) for name in FACETS},
    "sort": fields.String(load_default=None, validate=validate.OneOf([*SORTS, *SORT_ALIASES]), metadata={
        "description": "Thứ tự: relevance, newest, updated, name, downloads (hoặc cách viết của CKAN)."}),
    "page": fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000)),
    "per_page": fields.Integer(load_default=20, validate=validate.Range(min=1, max=1000)),
    "include_private": fields.Boolean(load_default=True, metadata={
        "description": "Gồm cả bộ dữ liệu chưa công bố của cơ quan mình (thành viên). Include own unpublished."}),
    "facet_limit": fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000)),
}, name="DatasetQuery")


class PageQuery(_Query):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))


class TagQuery(_Query):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


# --- list pages and facets ---------------------------------------------------------------

class Links(Schema):
    self = fields.String()
    first = fields.String()
    prev = fields.String(allow_none=True)
    next = fields.String(allow_none=True)
    last = fields.String()


def _page_of(name: str, item: Any, **extra: fields.Field) -> type[Schema]:
    return Schema.from_dict({
        "count": fields.Integer(required=True, metadata={"description": "Tổng số kết quả. Total."}),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "items": fields.List(fields.Nested(item), required=True),
        **extra,
        "links": fields.Nested(Links, required=True),
    }, name=name)


class FacetValue(Schema):
    value = fields.String(required=True)
    label = fields.String(required=True)
    count = fields.Integer(required=True)
    active = fields.Boolean(required=True)


def dataset_page_schema() -> type[Schema]:
    return _dataset_page(dataset_schema())


@cache
def _dataset_page(item: type[Schema]) -> type[Schema]:
    return _page_of("DatasetPage", item,
                    facets=fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(FacetValue)),
                                       metadata={"description": "Đếm theo từng bộ lọc. Facet counts."}),
                    suggestion=fields.String(allow_none=True, metadata={"description": "Có phải bạn muốn tìm…"}))


# --- agencies, members, themes, tags, licences ---------------------------------------------

class AgencyOut(AgencySchema):
    """Cơ quan xuất bản (CKAN: organization). A publishing agency."""

    created_at = fields.DateTime(dump_only=True)
    dataset_count = fields.Integer(dump_only=True)
    api_url = fields.String(dump_only=True)


def agency_out(agency: Agency, dataset_count: int | None = None) -> dict[str, Any]:
    data = AgencyOut().dump(agency)
    data["created_at"] = _utc(data.get("created_at"))
    if dataset_count is not None:
        data["dataset_count"] = dataset_count
    data["api_url"] = url_for("rest.agencies.agency_detail", name=agency.name, _external=True)
    return data


class AgencyList(Schema):
    items = fields.List(fields.Nested(AgencyOut), required=True)


class NewMember(MembershipSchema):
    """Thêm thành viên: tên đăng nhập (hoặc id) và vai trò. Add a member."""

    user = Text(required=True, validate=validate.Length(max=100))


class Member(Schema):
    user = fields.String(required=True, metadata={"description": "Tên đăng nhập."})
    fullname = fields.String(allow_none=True)
    role = fields.String(required=True, validate=validate.OneOf([role.value for role in Role]))
    since = fields.DateTime(required=True)


def member_out(membership: Membership) -> dict[str, Any]:
    return {"user": membership.user.name, "fullname": membership.user.fullname, "role": membership.role,
            "since": _utc(membership.created_at.isoformat())}


class MemberList(Schema):
    items = fields.List(fields.Nested(Member), required=True)


class ThemeOut(Schema):
    """Lĩnh vực ưu tiên (CKAN: group). A theme."""

    name = fields.String(required=True)
    title = fields.String(required=True)
    title_en = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    dataset_count = fields.Integer(required=True)


def theme_out(theme: Theme, count: int) -> dict[str, Any]:
    return {"name": theme.name, "title": theme.title, "title_en": theme.title_en,
            "description": theme.description, "dataset_count": count}


class ThemeList(Schema):
    items = fields.List(fields.Nested(ThemeOut), required=True)


class TagOut(Schema):
    name = fields.String(required=True)
    count = fields.Integer(required=True, metadata={"description": "Số bộ dữ liệu bạn thấy có từ khóa này."})


class TagList(Schema):
    items = fields.List(fields.Nested(TagOut), required=True)


class LicenceOut(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    url = fields.String(allow_none=True)
    is_open = fields.Boolean(required=True)


class LicenceList(Schema):
    items = fields.List(fields.Nested(LicenceOut), required=True)


# --- activity ------------------------------------------------------------------------------

class ActorOut(Schema):
    name = fields.String(required=True)
    display_name = fields.String(required=True)


class ChangeOut(Schema):
    field = fields.String(required=True)
    label = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["added", "removed", "changed"]))
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)
    items_added = fields.List(fields.String())
    items_removed = fields.List(fields.String())


class ActivityOut(Schema):
    """Một thay đổi: ai, làm gì, khi nào. One recorded change."""

    id = fields.Integer(required=True)
    verb = fields.String(required=True, metadata={"description": "object:verb, ví dụ dataset:publish."})
    created_at = fields.DateTime(required=True)
    actor = fields.Nested(ActorOut, allow_none=True)
    sentence = fields.String(required=True, metadata={"description": "Câu mô tả bằng tiếng Việt."})
    dataset = fields.String(allow_none=True)
    changes = fields.List(fields.Nested(ChangeOut))


def activity_out(entry: Entry) -> dict[str, Any]:
    activity = entry.activity
    actor = activity.actor
    return {
        "id": activity.id,
        "verb": activity.verb,
        "created_at": _utc(activity.created_at.isoformat()),
        "actor": {"name": actor.name, "display_name": actor.display_name} if actor else None,
        "sentence": entry.sentence,
        "dataset": entry.dataset_name,
        "changes": [{"field": change.field, "label": change.label, "kind": change.kind,
                     "old": _plain(change.old), "new": _plain(change.new),
                     "items_added": list(change.items_added), "items_removed": list(change.items_removed)}
                    for change in entry.changes],
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


ActivityPage = _page_of("ActivityPage", ActivityOut)


# --- the current user and tokens -----------------------------------------------------------

class AgencyMembership(Schema):
    agency = fields.String(required=True)
    agency_title = fields.String(required=True)
    role = fields.String(required=True)


class Me(UserSchema):
    """Tài khoản đang gọi API (theo khóa API). The account the token belongs to."""

    memberships = fields.List(fields.Nested(AgencyMembership), dump_only=True)


def me_out(user: User) -> dict[str, Any]:
    data = Me().dump(user)
    data["created_at"] = _utc(data.get("created_at"))
    data["memberships"] = [{"agency": m.agency.name, "agency_title": m.agency.title, "role": m.role}
                           for m in user.memberships]
    return data


class ApiToken(Schema):
    """Khóa API (chỉ hiện mã bí mật một lần, khi tạo). An API token; its secret is shown once."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class NewApiToken(ApiToken):
    secret = fields.String(required=True, metadata={"description": "Mã bí mật; chỉ hiện lần này. Shown once."})


def token_out(token: ApiTokenRow, secret: str | None = None) -> dict[str, Any]:
    data = {"id": token.id, "name": token.name, "created_at": _utc(token.created_at.isoformat()),
            "expires_at": _utc(token.expires_at.isoformat()) if token.expires_at else None,
            "last_used_at": _utc(token.last_used_at.isoformat()) if token.last_used_at else None}
    if secret is not None:
        data["secret"] = secret
    return data


class ApiTokenList(Schema):
    items = fields.List(fields.Nested(ApiToken), required=True)


# --- bodies and errors ---------------------------------------------------------------------

class TransitionBody(Schema):
    """Ghi chú kèm bước duyệt (bắt buộc khi trả lại, ≥ 10 ký tự). A comment (required to reject)."""

    comment = fields.String(allow_none=True, validate=validate.Length(max=5000))


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"description": "Mã lỗi, ví dụ not_found, validation_failed."})
    message = fields.String(required=True, metadata={"description": "Thông báo tiếng Việt. Vietnamese message."})
    fields_ = fields.Dict(required=True, data_key="fields", metadata={
        "description": "Lỗi theo từng trường (marshmallow). Field errors."})


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)


def resource_entry(dataset: Dataset, resource_id: str) -> dict[str, Any]:
    """A resource's entry in its dataset's stored document."""
    return next(entry for entry in document_of(dataset).get("resources", []) if entry["id"] == resource_id)


def resource_list_schema() -> type[Schema]:
    return _resource_list(resource_schema())


@cache
def _resource_list(item: type[Schema]) -> type[Schema]:
    return Schema.from_dict({"items": fields.List(fields.Nested(item), required=True)}, name="ResourceList")
