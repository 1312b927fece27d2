"""REST v1: resources — list, add (multipart upload, raw body upload, or link), read, edit, replace the file, delete.

A raw body is handed to the store as the request's stream (``Upload(request.stream, …)``),
never read into memory; a multipart part is already in the store when the handler
runs (``storage.requests``).
"""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.http import parse_options_header

from opendata.accounts.models import User
from opendata.api.v1.http import (
    UnsupportedMediaType, created, is_json, json_body, no_content, operation, caller, reply, authenticated,
)
from opendata.api.v1.representations import document_of, resource_entry, resource_list_schema, resource_out, resource_schema
from opendata.catalog import resources, services
from opendata.catalog.models import Dataset, Resource
from opendata.errors import NotFound, ValidationFailed
from opendata.extensions import db

bp = Blueprint("resources", __name__)

NAME = {"name": "Tên (đường dẫn) hoặc id của bộ dữ liệu. Dataset name or id."}
RESOURCE_ID = {"resource_id": "Id của tài nguyên. Resource id."}
UPLOAD_HELP = """\
Ba cách / three ways:

- `multipart/form-data`: tệp trong trường `file`, các trường khác (`name`, `description`, `format`) là siêu dữ liệu.
- thân yêu cầu là chính tệp (`application/octet-stream`, `text/csv`…): tên tệp trong
  `Content-Disposition: attachment; filename*=UTF-8''B%C3%A1o%20c%C3%A1o.csv` hoặc tham số `?filename=`;
  siêu dữ liệu trong tham số truy vấn (`?name=…&description=…`). The body is the file, streamed to storage.
- `application/json` với `url`: liên kết tới dữ liệu nằm nơi khác. A link.
"""


def _find(actor: User | None, resource_id: str) -> tuple[Dataset, Resource]:
    """The resource and its dataset, if the actor may see the dataset. Raises NotFound."""
    row = db.session.get(Resource, resource_id)
    if row is None:
        raise NotFound("Không tìm thấy tài nguyên này.")
    dataset = services.get_dataset(actor, row.dataset_id)
    return dataset, resources.get_resource(dataset, resource_id)


def _out(dataset: Dataset, resource: Resource) -> dict:
    return resource_out(resource_entry(dataset, resource.id), dataset.name)


def _raw_filename() -> str | None:
    disposition = request.headers.get("Content-Disposition")
    if disposition:
        _, options = parse_options_header(disposition)
        if options.get("filename"):
            return options["filename"]
    return request.args.get("filename")


def _file_upload() -> tuple[dict, resources.Upload | None]:
    """Metadata and file of a write that carries a file: multipart, or the raw body. Raises 415, 422."""
    if request.mimetype == "multipart/form-data":
        part = request.files.get("file")
        if part is None or not part.filename:
            raise ValidationFailed(fields={"file": ["Cần gửi tệp trong trường `file`."]})
        metadata = {key: value for key, value in request.form.items()}
        return metadata, resources.Upload(part.stream, part.filename)
    if not request.mimetype or (request.mimetype == "application/x-www-form-urlencoded" and not _raw_filename()):
        raise UnsupportedMediaType("Hãy gửi tệp (multipart/form-data hoặc thân yêu cầu là chính tệp) "
                                   "hoặc JSON có `url`.")
    filename = _raw_filename()
    if not filename:
        raise ValidationFailed(fields={"filename": [
            "Cần tên tệp: Content-Disposition: attachment; filename*=UTF-8''… hoặc tham số ?filename=."]})
    metadata = {key: value for key, value in request.args.items() if key != "filename"}
    return metadata, resources.Upload(request.stream, filename)


@bp.get("/datasets/<name>/resources")
@operation("Các tài nguyên của bộ dữ liệu. A dataset's resources", tag="resources",
           response=resource_list_schema, errors=(401, 404), conditional=True, path_params=NAME)
def resource_list(name: str):
    dataset = services.get_dataset(caller(), name)
    entries = document_of(dataset).get("resources", [])
    return reply({"items": [resource_out(entry, dataset.name) for entry in entries]})


@bp.post("/datasets/<name>/resources")
@operation("Thêm tài nguyên: tải tệp lên hoặc liên kết. Add a resource: upload or link", tag="resources",
           body="upload", response=resource_schema, status=201, errors=(400, 401, 403, 404, 413, 415, 422),
           auth="required", path_params=NAME, description=UPLOAD_HELP)
def resource_create(name: str):
    actor = authenticated()
    dataset = services.get_dataset(actor, name)
    if is_json():
        resource = resources.add_resource(actor, dataset, json_body())
    else:
        metadata, upload = _file_upload()
        resource = resources.add_resource(actor, dataset, metadata, upload)
    data = _out(dataset, resource)
    return created(data, data["api_url"])


@bp.get("/resources/<resource_id>")
@operation("Xem một tài nguyên. Show a resource", tag="resources", response=resource_schema, errors=(401, 404),
           conditional=True, path_params=RESOURCE_ID)
def resource_detail(resource_id: str):
    dataset, resource = _find(caller(), resource_id)
    return reply(_out(dataset, resource))


@bp.patch("/resources/<resource_id>")
@operation("Sửa thông tin tài nguyên. Update a resource's metadata", tag="resources", body=resource_schema,
           response=resource_schema, errors=(400, 401, 403, 404, 413, 415, 422), auth="required",
           path_params=RESOURCE_ID)
def resource_patch(resource_id: str):
    actor = authenticated()
    dataset, resource = _find(actor, resource_id)
    resource = resources.update_resource(actor, dataset, resource, json_body())
    return reply(_out(dataset, resource))


@bp.put("/resources/<resource_id>")
@operation("Thay tệp của tài nguyên. Replace a resource's file", tag="resources", body="file",
           response=resource_schema, errors=(400, 401, 403, 404, 413, 415, 422), auth="required",
           path_params=RESOURCE_ID,
           description="Thân yêu cầu là tệp mới (multipart trường `file`, hoặc chính tệp). Dùng PATCH để sửa "
                       "thông tin. The body is the new file; use PATCH for metadata.")
def resource_replace(resource_id: str):
    actor = authenticated()
    dataset, resource = _find(actor, resource_id)
    if is_json():
        raise UnsupportedMediaType("PUT nhận tệp mới; dùng PATCH với JSON để sửa thông tin tài nguyên.")
    metadata, upload = _file_upload()
    if metadata:
        raise ValidationFailed(fields={key: ["Dùng PATCH để sửa thông tin tài nguyên."] for key in metadata})
    resource = resources.replace_file(actor, dataset, resource, upload)
    return reply(_out(dataset, resource))


@bp.delete("/resources/<resource_id>")
@operation("Xóa tài nguyên (và tệp). Delete a resource and its file", tag="resources", status=204,
           errors=(401, 403, 404), auth="required", path_params=RESOURCE_ID)
def resource_delete(resource_id: str):
    actor = authenticated()
    dataset, resource = _find(actor, resource_id)
    resources.delete_resource(actor, dataset, resource)
    return no_content()
