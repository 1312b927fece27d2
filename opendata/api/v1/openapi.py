"""The OpenAPI 3.1 document of the REST API, generated, and its documentation page.

Nothing here is written by hand about the data: apispec's MarshmallowPlugin turns
the schemas the services validate with (``DatasetSchema``… from the metadata schema
YAML, ``AgencySchema``, ``TokenSchema``…) and the answers of ``representations``
into JSON Schema, and each route's ``@operation`` says which of them it reads and
answers. The routes are found in the URL map, so a route cannot go undocumented.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, render_template, url_for
from marshmallow import Schema

from opendata.api.v1.http import Operation, reply
from opendata.api.v1.representations import Error, resource_schema
from opendata.catalog.schemas import Email, Url

bp = Blueprint("openapi", __name__)

TITLE = "Cổng dữ liệu mở Lâm Đồng — REST API v1"
OVERVIEW = """\
API REST của Cổng dữ liệu mở tỉnh Lâm Đồng: bộ dữ liệu, tài nguyên, cơ quan, lĩnh vực, từ khóa,
giấy phép, lịch sử thay đổi và quy trình duyệt. The portal's REST API.

- **Xác thực / auth**: khóa API trong `Authorization: Bearer <khóa>` (tạo ở trang tài khoản hoặc
  `POST /api/v1/me/tokens`). Đọc dữ liệu công khai không cần khóa; ghi luôn cần khóa. API không dùng
  cookie đăng nhập. Khóa sai hoặc hết hạn: 401.
- **Lỗi / errors**: luôn là `{"error": {"code", "message", "fields"}}`; `fields` chứa lỗi từng trường.
  400 tham số sai, 401, 403, 404 (kể cả bộ dữ liệu bạn không được xem), 409 trạng thái không cho phép,
  413 quá lớn, 415 sai kiểu nội dung, 422 dữ liệu không hợp lệ, 429 quá nhiều yêu cầu (xem `Retry-After`).
- **Phân trang / pagination**: `count`, `page`, `per_page`, `items` và `links` (`first`, `prev`, `next`,
  `last`), cũng có trong tiêu đề `Link`.
- **Bộ nhớ đệm / caching**: mọi GET có `ETag`; gửi lại trong `If-None-Match` để nhận 304.
- **CORS**: GET/HEAD/OPTIONS cho mọi nguồn (`Access-Control-Allow-Origin: *`); thao tác ghi thì không.
- Thời gian theo UTC (RFC 3339). Times are UTC.
"""
TAGS = [
    {"name": "datasets", "description": "Bộ dữ liệu. Datasets."},
    {"name": "workflow", "description": "Quy trình duyệt và công bố. The review workflow."},
    {"name": "resources", "description": "Tài nguyên: tệp và liên kết. Files and links."},
    {"name": "agencies", "description": "Cơ quan xuất bản. Publishing agencies."},
    {"name": "members", "description": "Thành viên cơ quan. Agency members."},
    {"name": "activity", "description": "Lịch sử thay đổi. Activity streams."},
    {"name": "vocabularies", "description": "Lĩnh vực, từ khóa, giấy phép. Themes, tags, licences."},
    {"name": "me", "description": "Tài khoản và khóa API. Your account and tokens."},
    {"name": "rows", "description": "Dòng dữ liệu của các bảng (kho dữ liệu). Table rows (datastore)."},
]
ERRORS = {
    400: "Tham số hoặc JSON không hợp lệ. Bad parameters.",
    401: "Thiếu khóa API, hoặc khóa sai/hết hạn/bị thu hồi. Authentication needed or invalid token.",
    403: "Không có quyền. Forbidden.",
    404: "Không tìm thấy (hoặc bạn không được xem). Not found.",
    409: "Trạng thái hiện tại không cho phép; `message` nói lý do. Conflict.",
    413: "Nội dung quá lớn. Payload too large.",
    415: "Kiểu nội dung không được hỗ trợ. Unsupported media type.",
    422: "Dữ liệu không hợp lệ; `fields` nói từng trường. Validation failed.",
    429: "Quá nhiều yêu cầu; thử lại sau `Retry-After` giây. Rate limited.",
    503: "Truy vấn chạy quá thời gian cho phép. Query timed out.",
}
_PARAM = re.compile(r"<(?:[^<>]*:)?(\w+)>")


def _resolve_name(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema").removesuffix("Out") or cls.__name__


def _field_text(self, field, **kwargs) -> dict[str, Any]:
    """Titles and descriptions (Vietnamese, then English) from the metadata schema YAML; patterns of URL/e-mail."""
    extra: dict[str, Any] = {}
    spec = field.metadata.get("spec")
    if spec is not None:
        extra["title"] = spec.label.get("vi") or spec.field_name
        parts = [spec.help.get("vi"), spec.help.get("en") or spec.label.get("en"),
                 f"DCAT-AP: `{spec.dcat}`" if spec.dcat else None]
        extra["description"] = " — ".join(part for part in parts if part)
    if isinstance(field, (Url, Email)):
        extra["pattern"] = field._pattern.pattern
    return extra


def _schema(value: Any) -> Any:
    """A schema class given as such or as a function returning it (schemas built from the YAML)."""
    if isinstance(value, type) and issubclass(value, Schema):
        return value
    return value()


def _file_body(with_json: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {
                "file": {"type": "string", "contentMediaType": "application/octet-stream",
                         "description": "Tệp tải lên. The file."},
                "name": {"type": "string", "description": "Tên tài nguyên (mặc định: tên tệp)."},
                "description": {"type": "string"},
                "format": {"type": "string"},
            }}},
        "application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream",
                                                "description": "Chính tệp; tên tệp trong Content-Disposition "
                                                               "hoặc ?filename=. The file itself."}},
    }
    if with_json is not None:
        content["application/json"] = {"schema": with_json}
    return {"required": True, "content": content}


def _operation(endpoint: str, rule_args: list[str], op: Operation, method: str) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    for name in rule_args:
        described = op.path_params.get(name, "")
        if isinstance(described, dict):
            schema = {"type": "string", **({"enum": described["enum"]} if "enum" in described else {})}
            described = described.get("description", "")
        else:
            schema = {"type": "string"}
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema, "description": described})
    if op.args is not None:
        parameters.append({"in": "query", "schema": op.args})
    errors = {401, 429, *op.errors}
    if op.args is not None:
        errors.add(400)
    operation: dict[str, Any] = {
        "operationId": endpoint.removeprefix("rest.").replace(".", "_"),
        "tags": [op.tag],
        "summary": op.summary,
        "parameters": parameters,
    }
    if op.description:
        operation["description"] = op.description
    if op.body == "upload":
        operation["requestBody"] = _file_body(with_json=resource_schema())
    elif op.body == "file":
        operation["requestBody"] = _file_body()
    elif op.body is not None:
        operation["requestBody"] = {"required": op.tag != "workflow",
                                    "content": {"application/json": {"schema": _schema(op.body)}}}
    if op.body is not None:
        errors.update({400, 413, 415, 422})
    responses: dict[str, Any] = {}
    headers = {}
    if op.conditional:
        headers["ETag"] = {"schema": {"type": "string"}, "description": "Gửi lại trong If-None-Match."}
    if op.paginated:
        headers["Link"] = {"schema": {"type": "string"}, "description": "RFC 8288: first, prev, next, last."}
    if op.response is None:
        responses[str(op.status)] = {"description": "Xong. Done (no content)."}
    else:
        responses[str(op.status)] = {"description": "OK", "headers": headers, "content": {
            "application/json": {"schema": _schema(op.response)},
            **{media_type: {"schema": {"type": "string"}} for media_type in op.media_types}}}
    for status, text in op.more.items():
        responses[str(status)] = {"description": text}
    if op.conditional:
        responses["304"] = {"description": "Không đổi từ lần trước (If-None-Match). Not modified."}
    for status in sorted(errors):
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    operation["responses"] = responses
    operation["security"] = [{"apiToken": []}] if op.auth == "required" else [{}, {"apiToken": []}]
    return operation


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every ``@operation`` route of the app."""
    plugin = MarshmallowPlugin(schema_name_resolver=_resolve_name)
    spec = APISpec(title=TITLE, version="1.0.0", openapi_version="3.1.0", plugins=[plugin],
                   info={"description": OVERVIEW}, tags=TAGS)
    plugin.converter.add_attribute_function(_field_text)
    plugin.map_to_openapi_type(Email, "string", "email")
    plugin.map_to_openapi_type(Url, "string", "uri")
    spec.components.security_scheme("apiToken", {
        "type": "http", "scheme": "bearer",
        "description": "Khóa API (odl_…). Cũng nhận `Authorization: <khóa>` và `X-CKAN-API-Key`."})
    spec.components.schema("Error", schema=Error)
    for status, text in ERRORS.items():
        response: dict[str, Any] = {"description": text, "content": {"application/json": {"schema": "Error"}}}
        if status == 429:
            response["headers"] = {"Retry-After": {"schema": {"type": "string"}}}
        spec.components.response(f"Error{status}", response)
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        op = getattr(app.view_functions.get(rule.endpoint), "operation", None)
        if op is None or not rule.endpoint.startswith("rest."):
            continue
        path = _PARAM.sub(r"{\1}", rule.rule)
        args = _PARAM.findall(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule.endpoint, args, op, method)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def openapi_document() -> dict[str, Any]:
    """The app's document, built once (the routes and the metadata schema are fixed at start)."""
    state = current_app.extensions.setdefault("rest_v1", {})
    if "openapi" not in state:
        state["openapi"] = build_document(current_app)
    return state["openapi"]


@bp.get("/v1/openapi.json")
def openapi_json():
    return reply(openapi_document())


@bp.get("/docs")
def docs():
    return render_template("api/docs.html", spec_url=url_for("rest.openapi.openapi_json"))
