"""REST v1: the rows of a tabular resource — filter, search, sort, page, and take them as JSON, CSV or XLSX.

The handler parses the parameters into a ``RowQuery`` and streams what
``datastore.query`` fetches: a large result is never held in memory. Who may read
the rows is the file's rule (``datastore.service.readable_table``).
"""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Response, request, stream_with_context, url_for
from marshmallow import Schema, fields, validate

from opendata.api.v1.http import BadParameters, caller, operation
from opendata.api.v1.representations import _Query
from opendata.catalog import resources
from opendata.datastore import export
from opendata.datastore.query import RowQuery, open_rows, parse_sort, split_fields
from opendata.datastore.service import field_info, readable_table
from opendata.web import current_actor

bp = Blueprint("rows", __name__)

ROW_LIMIT = 10_000  # one JSON page; CSV and XLSX take every row unless limited
RESOURCE_ID = {"resource_id": "Id của tài nguyên dạng bảng. Id of a tabular resource."}
FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8",
           "xlsx": export.XLSX_TYPE}

RowsQuery = _Query.from_dict({
    "filters": fields.String(load_default=None, validate=validate.Length(max=20_000), metadata={
        "description": "JSON: `{\"Huyện\": \"Lâm Hà\"}` (bằng), `{\"Huyện\": [\"Lâm Hà\", \"Di Linh\"]}` (một "
                       "trong), `{\"Năm\": {\"gte\": 2020, \"lt\": 2025}}` (khoảng: gt, gte, lt, lte). Tên cột "
                       "viết đúng như dòng tiêu đề của tệp. Column ids are the file's headers."}),
    "q": fields.String(load_default=None, validate=validate.Length(max=500), metadata={
        "description": "Tìm theo từ trong các cột văn bản, có hoặc không dấu (`da lat` thấy `Đà Lạt`); mã số "
                       "tìm đúng nguyên giá trị. Full text, diacritic-insensitive."}),
    "sort": fields.List(fields.String(validate=validate.Length(max=2000)), load_default=list, metadata={
        "description": "`Năm desc` hoặc `Năm, Kinh phí (triệu đồng) desc` (hoặc lặp lại tham số). Sort."}),
    "fields": fields.List(fields.String(validate=validate.Length(max=2000)), load_default=list, metadata={
        "description": "Các cột cần lấy (lặp lại tham số, hoặc danh sách phân cách bằng dấu phẩy). Columns."}),
    "limit": fields.Integer(load_default=None, validate=validate.Range(min=0, max=ROW_LIMIT), metadata={
        "description": f"Số dòng (mặc định 100 với JSON, tối đa {ROW_LIMIT:,}; CSV/XLSX: mọi dòng)."}),
    "offset": fields.Integer(load_default=0, validate=validate.Range(min=0, max=100_000_000)),
    "cursor": fields.String(load_default=None, validate=validate.Length(max=4000), metadata={
        "description": "Con trỏ `next_cursor` của trang trước, để đi sâu mà không chậm dần. Deep paging."}),
    "total": fields.Boolean(load_default=True, metadata={"description": "Đếm tổng số dòng khớp. Count matches."}),
    "format": fields.String(load_default="json", validate=validate.OneOf(list(FORMATS)), metadata={
        "description": "json, csv (UTF-8) hoặc xlsx."}),
}, name="RowsQuery")


class FieldInfo(Schema):
    label = fields.String()
    notes = fields.String()
    unit = fields.String()


class RowField(Schema):
    id = fields.String(metadata={"description": "Tên cột đúng như trong tệp. The column's header."})
    type = fields.String(metadata={"description": "Kiểu của CKAN: int, numeric, text, date, timestamp, bool."})
    schema_type = fields.String(metadata={"description": "Kiểu theo Frictionless Table Schema."})
    search = fields.String(allow_none=True, metadata={
        "description": "Cột văn bản: `words` (tìm theo từ) hoặc `exact` (mã số, tìm đúng giá trị)."})
    info = fields.Nested(FieldInfo, metadata={"description": "Từ điển dữ liệu: nhãn, mô tả, đơn vị."})


class RowLinks(Schema):
    next = fields.String(allow_none=True)


# A class body cannot declare a field named ``fields`` beside the marshmallow module of that name.
RowPage = Schema.from_dict({
    "resource_id": fields.String(),
    "fields": fields.List(fields.Nested(RowField)),
    "records": fields.List(fields.Dict(), metadata={"description": "Các dòng, mỗi dòng là {cột: giá trị}, có `_id`."}),
    "total": fields.Integer(allow_none=True),
    "limit": fields.Integer(allow_none=True),
    "offset": fields.Integer(),
    "next_cursor": fields.String(allow_none=True),
    "links": fields.Nested(RowLinks),
}, name="RowPage")


def _filters(raw: str | None) -> dict:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise BadParameters(fields={"filters": ["Phải là một đối tượng JSON."]}) from None
    if not isinstance(value, dict):
        raise BadParameters(fields={"filters": ["Phải là một đối tượng JSON {cột: giá trị}."]})
    return value


def _etag(found, actor_id: str | None) -> str:
    # The table's name changes with every load, so it versions the rows; the resource's update
    # time versions the dictionary shown in ``fields``; the query string picks the rows.
    key = (f"{found.table.table_name}|{found.resource.updated_at.isoformat()}|{actor_id or ''}|"
           f"{request.query_string.decode('latin-1')}")
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@bp.get("/resources/<resource_id>/rows")
@operation("Các dòng của bảng dữ liệu. A table's rows", tag="rows", args=RowsQuery, response=RowPage,
           errors=(400, 403, 404, 409, 503), conditional=True, path_params=RESOURCE_ID,
           media_types=("text/csv", FORMATS["xlsx"]),
           description="Lọc, tìm, sắp xếp và phân trang các dòng của một tệp CSV, TSV, XLSX hoặc JSON đã được "
                       "nạp vào kho dữ liệu; lấy về dạng JSON, CSV hoặc XLSX. Rows of a loaded table.")
def resource_rows(resource_id: str, args: dict):
    # A token, or the signed-in visitor's session: the resource page's preview asks from the browser,
    # and an editor previews a draft. Reading only, and CORS ``*`` keeps other sites from doing so.
    actor = caller() or current_actor()
    found = readable_table(actor, resource_id)
    fmt = args["format"]
    limit = args["limit"] if args["limit"] is not None else (100 if fmt == "json" else None)
    known = [column["id"] for column in found.table.fields]
    query = RowQuery(filters=_filters(args["filters"]), q=args["q"], sort=parse_sort(args["sort"], known),
                     fields=split_fields(args["fields"], known), limit=limit, offset=args["offset"],
                     cursor=args["cursor"], include_total=args["total"] and fmt == "json")
    etag = _etag(found, actor.id if actor else None)
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    result = open_rows(found.table, query)
    public = resources.publicly_downloadable(found.resource)
    stem = export.download_stem(found.resource)
    if fmt == "xlsx":
        response = export.xlsx_response(result, stem)
    elif fmt == "csv":
        response = export.csv_response(result, stem)
    else:
        info = {field["id"]: field for field in field_info(found.resource, found.table)}
        head = {"resource_id": found.resource.id,
                "fields": [info.get(field["id"], field) for field in result.fields]}
        # The request stays open while the rows stream: the next link is made from it at the end.
        response = Response(stream_with_context(export.json_chunks(result, head, lambda done: {
            "total": done.total, "limit": query.limit, "offset": query.offset, "next_cursor": done.next_cursor,
            "links": {"next": _next_link(done.next_cursor)}})), mimetype="application/json")
    # A body never read (HEAD, a client gone before the first byte) must still give its connection back.
    response.call_on_close(result.close)
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Cache-Control"] = "public, max-age=60" if public and actor is None else "private, no-cache"
    return response


def _next_link(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    args = {key: values for key, values in request.args.to_dict(flat=False).items() if key not in ("cursor", "offset")}
    return url_for(request.endpoint, **(request.view_args or {}), **args, cursor=cursor, _external=True)
