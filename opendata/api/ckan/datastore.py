"""CKAN's DataStore actions: ``datastore_search`` and ``datastore_info``, over the portal's datastore.

Parameters and answers follow CKAN 2.10/2.11 (``filters``, ``q``, ``sort``, ``fields``,
``limit``, ``offset``, ``include_total``, ``records_format``; field types ``int``,
``numeric``, ``text``, ``date``, ``timestamp``, ``bool``), so scripts written for a
CKAN DataStore work unchanged. The rows come from ``datastore.query`` under the
file's rules (``datastore.service``). ``datastore_search_sql`` is not offered: the
portal cannot yet guarantee that arbitrary SQL stays read-only, within the
datastore's tables and within a time limit on both databases.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import urlencode

from opendata.accounts.models import User
from opendata.api.ckan.params import Params
from opendata.datastore.query import RowQuery, open_rows, parse_sort, split_fields
from opendata.datastore.service import NotLoaded, field_info, readable_table
from opendata.datastore.sql import INDEXED_COLUMNS, sql_types
from opendata.extensions import db
from opendata.errors import NotFound, ValidationFailed

MAX_LIMIT = 32_000  # CKAN's ckan.datastore.search.rows_max default
RECORDS_FORMATS = ("objects", "lists", "csv", "tsv")


def _table(actor: User | None, resource_id: str):
    try:
        return readable_table(actor, resource_id)
    except NotLoaded as error:
        # CKAN answers a resource without a DataStore table as not found.
        raise NotFound(f'Resource "{resource_id}" was not found. {error.message}') from error


def _json_param(params: Params, key: str, kind: type) -> Any:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and kind is not str:
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationFailed(fields={key: [f"Phải là JSON ({kind.__name__})."]}) from None
    if not isinstance(value, kind):
        raise ValidationFailed(fields={key: [f"Phải là {'một đối tượng' if kind is dict else 'chuỗi'} JSON."]})
    return value


def datastore_search(actor: User | None, params: Params) -> dict[str, Any]:
    """Rows of a resource's DataStore table: filters, q, sort, fields, limit, offset, include_total."""
    resource_id = params.first("resource_id", "id")
    found = _table(actor, resource_id)
    known = [column["id"] for column in found.table.fields]
    if params.get("distinct") not in (None, "", False, "false"):
        raise ValidationFailed(fields={"distinct": ["Chưa hỗ trợ distinct."]})
    q = params.get("q")
    if isinstance(q, dict) or (isinstance(q, str) and q.lstrip().startswith("{")):
        raise ValidationFailed(fields={"q": ["Chỉ hỗ trợ q là chuỗi (tìm trên mọi cột văn bản)."]})
    records_format = params.text("records_format", "objects")
    if records_format not in RECORDS_FORMATS:
        raise ValidationFailed(fields={"records_format": [f"Một trong: {', '.join(RECORDS_FORMATS)}."]})
    sort = params.get("sort")
    requested_fields = params.get("fields")
    if isinstance(requested_fields, list) or (isinstance(requested_fields, str)
                                              and requested_fields.lstrip().startswith("[")):
        requested_fields = params.string_list("fields")
    limit = params.integer("limit", 100, minimum=0, maximum=MAX_LIMIT)
    offset = params.integer("offset", 0, minimum=0)
    include_total = params.flag("include_total", True)
    query = RowQuery(filters=_json_param(params, "filters", dict) or {}, q=q if isinstance(q, str) else None,
                     sort=parse_sort(sort, known), fields=split_fields(requested_fields, known),
                     limit=limit, offset=offset, include_total=include_total)
    result = open_rows(found.table, query)
    records = list(result.records())
    info = {field["id"]: field for field in field_info(found.resource, found.table)}
    fields = ([{"id": "_id", "type": "int"}] if result.with_id else []) + [
        {"id": field["id"], "type": field["type"], **({"info": info[field["id"]]["info"]}
                                                     if info.get(field["id"], {}).get("info") else {})}
        for field in result.fields]
    start = {"resource_id": resource_id, **{key: value for key, value in params.data.items()
                                            if key not in ("resource_id", "id", "offset") and isinstance(value, str)}}
    answer: dict[str, Any] = {
        "resource_id": resource_id,
        "fields": fields,
        "records": _format(records, [field["id"] for field in fields], records_format),
        "records_format": records_format,
        "limit": limit,
        "include_total": include_total,
        "_links": {"start": f"/api/3/action/datastore_search?{urlencode(start)}",
                   "next": f"/api/3/action/datastore_search?{urlencode({**start, 'offset': offset + limit})}"},
    }
    if offset:
        answer["offset"] = offset
    for key in ("filters", "sort"):
        if params.get(key) not in (None, ""):
            answer[key] = query.filters if key == "filters" else params.get(key)
    if query.q:
        answer["q"] = query.q
    if include_total:
        answer["total"] = result.total
        answer["total_was_estimated"] = False
    return answer


def _format(records: list[dict[str, Any]], names: list[str], records_format: str) -> Any:
    if records_format == "objects":
        return records
    rows = [[record.get(name) for name in names] for record in records]
    if records_format == "lists":
        return rows
    text = io.StringIO()
    writer = csv.writer(text, delimiter="\t" if records_format == "tsv" else ",", lineterminator="\n")
    writer.writerows([["" if value is None else value for value in row] for row in rows])
    return text.getvalue()


def datastore_info(actor: User | None, params: Params) -> dict[str, Any]:
    """A DataStore table's columns (with the data dictionary) and row count."""
    resource_id = params.first("id", "resource_id")
    found = _table(actor, resource_id)
    indexed = "seconds_indexes" in ((found.table.report or {}).get("stats") or {})
    native = sql_types(db.engine.dialect.name)
    return {
        "meta": {"id": resource_id, "count": found.table.rows, "table_type": "BASE TABLE", "aliases": []},
        "fields": [{"id": field["id"], "type": field["type"],
                    "schema": {"native_type": native.get(field["schema_type"], "TEXT"), "notnull": False,
                               "is_index": indexed and position <= INDEXED_COLUMNS, "uniquekey": False},
                    "info": {"label": field["info"].get("label", ""), "notes": field["info"].get("notes", ""),
                             "type_override": "", **({"unit": field["info"]["unit"]}
                                                     if "unit" in field["info"] else {})}}
                   for position, field in enumerate(field_info(found.resource, found.table), start=1)],
    }


ACTIONS = {function.__name__: function for function in (datastore_search, datastore_info)}
