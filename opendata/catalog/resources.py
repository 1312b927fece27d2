"""Resource services: upload, link, replace, describe, reorder and delete the files of a dataset.

Files are stored before the row that points at them is committed, and removed again
if it cannot be: a failed request leaves neither a row nor a file. The format is
sniffed from the content (``storage.sniff``), archives are checked against zip
bombs, text files have their encoding detected (the original bytes are kept),
and tabular files go through the personal-data scan (``privacy.gate``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy import update

from opendata import authz
from opendata.accounts.models import User
from opendata.activity.recorder import record
from opendata.authz import Action
from opendata.catalog.document import refresh_document
from opendata.catalog.metadata import load_vocabularies
from opendata.catalog.models import Dataset, Resource, utcnow
from opendata.catalog.schemas import ResourceSchema
from opendata.catalog.services import file_store, load_payload
from opendata.datastore import dictionary, ingest
from opendata.errors import Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from opendata.extensions import db
from opendata.privacy import gate
from opendata.storage.encoding import detect
from opendata.storage.files import FileTooLarge, Receiving, StoredFile, safe_filename
from opendata.storage.sniff import UnsafeArchive, check_archive, sniff

log = logging.getLogger(__name__)
TEXT_FORMATS = frozenset({"CSV", "TSV", "TXT", "JSON", "GeoJSON"})
ENCODING_SAMPLE = 256 * 1024


@dataclass(frozen=True)
class Upload:
    """A file being uploaded: a readable binary stream (or a ``Receiving`` file) and the client's name for it."""

    stream: BinaryIO | Receiving
    filename: str


@dataclass(frozen=True)
class ReceivedFile:
    """An upload in the store, with what its content says it is."""

    stored: StoredFile
    filename: str
    format: str | None
    media_type: str
    encoding: str | None
    encoding_label: str | None


def _format_from_name(filename: str | None, url: str | None) -> str | None:
    name = filename or (PurePosixPath(url.split("?", 1)[0]).name if url else "")
    suffix = PurePosixPath(name).suffix.lower().lstrip(".")
    known = {fmt.lower(): fmt for fmt in load_vocabularies()["formats"]}
    return known.get(suffix) or (suffix.upper() or None)


def _receive(upload: Upload) -> ReceivedFile:
    """Receive an upload, examine its content while it is still nameless, then keep it in the store.

    Until it is kept, a crash leaves nothing behind; once kept, the caller commits the
    row that points at it at once, or deletes it.
    """
    store = file_store()
    try:
        received = store.receive(upload.stream, max_size=current_app.config["MAX_UPLOAD_SIZE"])
    except FileTooLarge as error:
        raise PayloadTooLarge() from error
    filename = safe_filename(upload.filename)
    with received:
        if received.size == 0:
            raise ValidationFailed(fields={"file": ["Tệp rỗng (0 byte)."]})
        path = received.reading_path
        try:
            check_archive(path)
        except UnsafeArchive as error:
            raise ValidationFailed(fields={"file": [error.message]}) from error
        found = sniff(path, filename)
        encoding = label = None
        if found.format in TEXT_FORMATS:
            with path.open("rb") as handle:
                detected = detect(handle.read(ENCODING_SAMPLE))
            encoding, label = detected.codec, detected.label
        stored = store.keep(received)
    fmt = found.format or _format_from_name(filename, None)
    return ReceivedFile(stored, filename, fmt, found.media_type, encoding, label)


def _apply_file(resource: Resource, received: ReceivedFile) -> None:
    resource.filename = received.filename
    resource.storage_key = received.stored.key
    resource.size, resource.sha256 = received.stored.size, received.stored.sha256
    resource.format, resource.media_type = received.format, received.media_type
    resource.encoding = received.encoding
    resource.url = None
    resource.privacy_scan = None
    resource.extras = {**(resource.extras or {}), "encoding_label": received.encoding_label,
                       "sniffed_format": received.format}


@contextmanager
def _or_discard(received: ReceivedFile | None) -> Iterator[None]:
    """Changes to the session around a new file: if they fail, the session is rolled back and the file goes."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        if received is not None:
            file_store().delete(received.stored.key)
        raise


def _commit_or_discard(received: ReceivedFile | None) -> None:
    """Commit the session; if that fails, the new file goes too, so nothing is half-saved."""
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if received is not None:
            file_store().delete(received.stored.key)
        raise


def _touch(dataset: Dataset) -> None:
    dataset.updated_at = utcnow()
    db.session.flush()
    refresh_document(dataset)


def add_resource(actor: User, dataset: Dataset, payload: Mapping[str, Any], upload: Upload | None = None) -> Resource:
    """Add a resource: an uploaded file or a link (``url``).

    Raises Forbidden, NotFound, ValidationFailed, PayloadTooLarge.
    """
    authz.require(actor, Action.RESOURCE_UPLOAD, dataset)
    if upload is not None and not payload.get("name"):
        payload = {**payload, "name": safe_filename(upload.filename)}  # named after its file by default
    data = load_payload(ResourceSchema(), payload)
    if (upload is None) == (not data.get("url")):
        raise ValidationFailed(fields={"url": ["Cần tải lên một tệp hoặc nhập một đường dẫn (chỉ một trong hai)."]})
    received = _receive(upload) if upload is not None else None
    with _or_discard(received):
        resource = Resource(position=len(dataset.resources), extras={}, **data)
        if data.get("schema"):
            # A dictionary given with the file states its column types: the load parses with them.
            resource.extras = {"chosen_types": {field["name"]: field.get("type", "string")
                                                for field in data["schema"].get("fields", [])}}
        if received is not None:
            _apply_file(resource, received)
        else:
            resource.format = resource.format or _format_from_name(None, resource.url)
        dataset.resources.append(resource)
        _touch(dataset)
        record(actor, "resource:create", resource, agency_id=dataset.agency_id,
               after={**ResourceSchema().dump(resource), "dataset": dataset.name, "dataset_id": dataset.id})
    _commit_or_discard(received)
    gate.start_scan(resource)
    ingest.start_load(resource)
    return resource


def replace_file(actor: User, dataset: Dataset, resource: Resource, upload: Upload) -> Resource:
    """Put a new file in place of a resource's file; the old one is removed once the row points away."""
    return update_resource(actor, dataset, resource, {}, upload)


def _changes(resource: Resource, payload: Mapping[str, Any], *, replacing: bool) -> dict[str, Any]:
    """The validated fields of an edit; an upload's format and address are not the publisher's to set."""
    data = load_payload(ResourceSchema(), payload, partial=True)
    uploaded = resource.is_upload or replacing
    if data.get("url") and uploaded:
        raise ValidationFailed(fields={"url": ["Tài nguyên này là tệp tải lên; hãy thay tệp thay vì nhập đường dẫn."]})
    if uploaded and data.get("format") not in (None, resource.format) and not replacing:
        # An upload's format is what its content is: the personal-data gate relies on it.
        raise ValidationFailed(fields={"format": ["Định dạng của tệp tải lên được nhận diện từ nội dung, không sửa được."]})
    if uploaded:
        data.pop("format", None)
        data.pop("url", None)
    return data


def update_resource(actor: User, dataset: Dataset, resource: Resource, payload: Mapping[str, Any],
                    upload: Upload | None = None) -> Resource:
    """Edit a resource's fields (those given only) and, with ``upload``, put a new file in its place.

    Everything is validated before the new file is received, and the change commits
    once: a refused edit leaves the old file and fields as they were.
    """
    authz.require(actor, Action.RESOURCE_UPLOAD, dataset)
    payload = dict(payload)
    chart_given = "chart" in payload  # the preview's default chart (see ``_chart``); None lets the portal pick
    chart = _chart(resource, payload.pop("chart", None))
    data = _changes(resource, payload, replacing=upload is not None)
    before = ResourceSchema().dump(resource)
    old_key = resource.storage_key
    retyped = False
    if "schema" in data and data["schema"] is not None and upload is None:
        # Descriptions merge into the dictionary; a changed type is the publisher's choice from now on.
        old_schema = resource.schema
        data["schema"], chosen = dictionary.apply_edit(resource, data["schema"])
        retyped = dictionary.types_changed(old_schema, data["schema"])
        if retyped:
            resource.extras = {**(resource.extras or {}), "chosen_types": chosen}
    received = _receive(upload) if upload is not None else None
    with _or_discard(received):
        if received is not None:
            _apply_file(resource, received)
        for key, value in data.items():
            setattr(resource, key, value)
        if chart_given:
            resource.extras = {**(resource.extras or {}), "chart": chart}
        if "url" in data and not resource.is_upload:
            resource.format = data.get("format") or _format_from_name(None, resource.url)
        resource.updated_at = utcnow()
        _touch(dataset)
        record(actor, "resource:replace" if received is not None else "resource:update", resource,
               agency_id=dataset.agency_id, before=before,
               after={**ResourceSchema().dump(resource), "dataset": dataset.name, "dataset_id": dataset.id})
    _commit_or_discard(received)
    if received is not None:
        if old_key and old_key != resource.storage_key:
            file_store().delete(old_key)
        gate.start_scan(resource)
    if received is not None or retyped:
        ingest.start_load(resource)  # the new file, or the rows re-validated against the new types
    return resource


CHART_TYPES = ("bar", "line", "pie")


def _chart(resource: Resource, chart: Any) -> dict[str, str] | None:
    """A default chart for the table's preview: a type, a column to group by and a number column."""
    if chart is None:
        return None
    table = ingest.table_of(resource)
    kinds = {column["id"]: column["type"] for column in table.fields} if table is not None and table.ready else {}
    problems = []
    if not isinstance(chart, Mapping) or chart.get("type") not in CHART_TYPES:
        problems.append("Kiểu biểu đồ phải là bar, line hoặc pie.")
    elif chart.get("x") not in kinds:
        problems.append("Trục ngang phải là một cột của bảng.")
    elif kinds.get(chart.get("y")) not in ("integer", "number"):
        problems.append("Giá trị của biểu đồ phải là một cột số của bảng.")
    if problems:
        raise ValidationFailed(fields={"chart": problems})
    return {"type": chart["type"], "x": chart["x"], "y": chart["y"]}


def delete_resource(actor: User, dataset: Dataset, resource: Resource) -> None:
    """Remove a resource; its file is deleted after the row is gone."""
    authz.require(actor, Action.RESOURCE_UPLOAD, dataset)
    key = resource.storage_key
    record(actor, "resource:delete", resource, agency_id=dataset.agency_id,
           before={**ResourceSchema().dump(resource), "dataset": dataset.name, "dataset_id": dataset.id})
    tables = ingest.release(resource)
    dataset.resources.remove(resource)
    for position, other in enumerate(dataset.resources):
        other.position = position
    _touch(dataset)
    db.session.commit()
    ingest.discard(tables)
    if key:
        file_store().delete(key)


def reorder_resources(actor: User, dataset: Dataset, order: list[str]) -> None:
    """Put the resources in the order of ``order`` (every resource id, once)."""
    authz.require(actor, Action.RESOURCE_UPLOAD, dataset)
    current = {resource.id: resource for resource in dataset.resources}
    if sorted(order) != sorted(current):
        raise ValidationFailed(fields={"order": ["Danh sách sắp xếp phải gồm đúng các tài nguyên của bộ dữ liệu."]})
    before = [resource.id for resource in dataset.resources]
    for position, resource_id in enumerate(order):
        current[resource_id].position = position
    dataset.resources.sort(key=lambda resource: resource.position)
    _touch(dataset)
    record(actor, "dataset:reorder", dataset, agency_id=dataset.agency_id, before={"resources": before},
           after={"resources": order})
    db.session.commit()


def move_resource(actor: User, dataset: Dataset, resource_id: str, direction: str) -> None:
    """Swap a resource with its neighbour ``up`` or ``down``; at either end it stays where it is."""
    order = [resource.id for resource in dataset.resources]
    if resource_id not in order or direction not in ("up", "down"):
        raise ValidationFailed(fields={"move": ["Không có tài nguyên hoặc hướng di chuyển này."]})
    index = order.index(resource_id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
    reorder_resources(actor, dataset, order)


def get_resource(dataset: Dataset, resource_id: str) -> Resource:
    """A resource of a dataset the caller could already see. Raises NotFound."""
    resource = db.session.get(Resource, resource_id)
    if resource is None or resource.dataset_id != dataset.id:
        raise NotFound("Không tìm thấy tài nguyên này.")
    return resource


def publicly_downloadable(resource: Resource) -> bool:
    """Whether anyone at all may download the file: only such answers may sit in shared caches."""
    return authz.can(None, Action.RESOURCE_DOWNLOAD, resource)


def require_download(actor: User | None, resource: Resource) -> None:
    """Raise Forbidden for a file that the non-sensitive gate has not cleared yet."""
    if not authz.can(actor, Action.RESOURCE_DOWNLOAD, resource):
        raise Forbidden("Tệp này đang chờ kiểm tra dữ liệu cá nhân nên chưa thể tải về.")


def resource_path(resource: Resource) -> Path:
    return file_store().path(resource.storage_key)


def count_download(resource: Resource) -> None:
    """Add one download to the resource and its dataset, in one short transaction.

    An UPDATE ... SET n = n + 1 needs no read, so concurrent workers never lose counts.
    """
    db.session.execute(update(Resource).where(Resource.id == resource.id)
                       .values(download_count=Resource.download_count + 1))
    db.session.execute(update(Dataset).where(Dataset.id == resource.dataset_id)
                       .values(download_count=Dataset.download_count + 1))
    db.session.commit()

