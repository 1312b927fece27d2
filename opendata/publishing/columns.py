"""The column names of a tabular resource, for its data dictionary form."""

from __future__ import annotations

from opendata.catalog.models import Resource
from opendata.datastore.ingest import table_of
from opendata.datastore.reader import open_table
from opendata.privacy.gate import content_format, is_tabular
from opendata.storage.files import file_store


def columns_of(resource: Resource) -> list[str]:
    """The file's columns, named as the datastore names them, or the dictionary's when the file cannot be read.

    After a replacement the header wins, so new columns can be described; what was written
    about columns that remain is kept by name (``described_fields``). Blank and repeated
    headers get the reader's names (``field3``, ``Năm2``), the ids the row API uses.
    """
    described = [field["name"] for field in (resource.schema or {}).get("fields", [])]
    table = table_of(resource)
    if table is not None and table.ready and table.sha256 == resource.sha256:
        return [column["id"] for column in table.fields]
    if not (is_tabular(resource) and resource.is_upload):
        return described
    try:
        with open_table(file_store().path(resource.storage_key), content_format(resource), resource.encoding) as source:
            return source.headers or described
    except Exception:  # noqa: BLE001 - an unreadable file keeps the dictionary it has
        return described


def described_fields(resource: Resource) -> dict[str, dict]:
    """What the dictionary says of each column, by name."""
    return {field["name"]: field for field in (resource.schema or {}).get("fields", [])}
