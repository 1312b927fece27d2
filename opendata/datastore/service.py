"""Who may read a resource's rows, and what its table says about itself.

Rows are the file's content, so they follow the file's rules: the dataset must be
visible to the caller (``catalog.services.get_dataset``) and the file cleared by
the non-sensitive gate (``resources.require_download``). Every reader — the row
API, CKAN's ``datastore_search``, previews, conversions — comes through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opendata.accounts.models import User
from opendata.catalog import resources, services
from opendata.catalog.models import Dataset, Resource
from opendata.datastore.ingest import loadable, table_of
from opendata.datastore.models import FAILED, DatastoreTable
from opendata.errors import AppError, NotFound
from opendata.extensions import db


class NotLoaded(AppError):
    """The resource has no rows to serve (yet): not a table, still loading, or unreadable."""

    status = 409
    code = "datastore_not_ready"
    message = "Dữ liệu của tài nguyên này chưa được nạp để truy vấn."

    def __init__(self, message: str | None = None, *, status_name: str | None = None):
        super().__init__(message, fields={"datastore_status": status_name} if status_name else None)


@dataclass(frozen=True)
class ReadableTable:
    dataset: Dataset
    resource: Resource
    table: DatastoreTable


def readable_table(actor: User | None, resource_id: str) -> ReadableTable:
    """The loaded table of a resource the caller may download. Raises NotFound, Forbidden, NotLoaded."""
    resource = db.session.get(Resource, resource_id) if isinstance(resource_id, str) else None
    if resource is None:
        raise NotFound("Không tìm thấy tài nguyên này.")
    dataset = services.get_dataset(actor, resource.dataset_id)
    resource = resources.get_resource(dataset, resource_id)
    resources.require_download(actor, resource)
    table = table_of(resource)
    if table is None or not table.ready:
        raise _not_loaded(resource, table)
    return ReadableTable(dataset, resource, table)


def _not_loaded(resource: Resource, table: DatastoreTable | None) -> NotLoaded:
    if not loadable(resource):
        return NotLoaded("Tài nguyên này không phải bảng dữ liệu (CSV, TSV, XLSX, JSON) nên không truy vấn "
                         "được theo dòng.", status_name=None)
    if table is not None and table.status == FAILED:
        error = (table.report or {}).get("error") or {}
        return NotLoaded(f"Không nạp được bảng: {error.get('message', 'lỗi không rõ')}", status_name=FAILED)
    return NotLoaded("Bảng đang được nạp vào kho dữ liệu, vui lòng thử lại sau ít phút.",
                     status_name=table.status if table else None)


def field_info(resource: Resource, table: DatastoreTable) -> list[dict[str, Any]]:
    """The table's columns with what the data dictionary says of them (label, description, unit)."""
    described = {field["name"]: field for field in (resource.schema or {}).get("fields", [])}
    out = []
    for column in table.fields:
        about = described.get(column["id"], {})
        info = {key: about[source] for key, source in (("label", "title"), ("notes", "description"),
                                                     ("unit", "unit")) if about.get(source)}
        out.append({"id": column["id"], "type": column["ckan_type"], "schema_type": column["type"],
                    "search": column.get("search"), "info": info})
    return out
