"""A dataset's files in one ZIP with its Data Package, and the Data Package descriptor on its own.

The same reading rules as single downloads: the dataset through ``services.get_dataset``
(404 for readers who may not see it; an API token works as on every route), each file
through ``resources.require_download`` (see ``datapackage.package_for``).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from opendata.catalog import resources, services
from opendata.interop.archive import zip_chunks
from opendata.interop.datapackage import package_for
from opendata.web import current_actor

bp = Blueprint("interop", __name__)


def _cache(response: Response, public: bool) -> Response:
    """Only what anyone may get may sit in a shared cache, briefly; the rest is private."""
    response.vary.update(("Cookie", "Authorization", "X-CKAN-API-Key"))
    if public:
        response.cache_control.max_age = 300
        response.cache_control.public = True
    else:
        response.cache_control.private = True
        response.cache_control.no_store = True
    return response


def _public(dataset) -> bool:
    """Whether every reader gets this same package: published, and every file cleared by the gate."""
    return dataset.is_published and all(resources.publicly_downloadable(resource) for resource in dataset.resources)


@bp.get("/dataset/<name>/download.zip")
def dataset_zip(name: str):
    actor = current_actor()
    dataset = services.get_dataset(actor, name)
    package = package_for(actor, dataset, in_zip=True)
    archive_name = f"{dataset.name}.zip"
    chunks = zip_chunks(package)  # checks every file is there before the first byte goes out
    if request.method == "GET":
        included = {item.resource_id for item in package.files}
        for resource in [resource for resource in dataset.resources if resource.id in included]:
            resources.count_download(resource)
    response = Response(chunks, mimetype="application/zip", direct_passthrough=True)
    response.headers["Content-Disposition"] = f'attachment; filename="{archive_name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return _cache(response, _public(dataset))


@bp.get("/dataset/<name>/datapackage.json")
def datapackage(name: str):
    actor = current_actor()
    dataset = services.get_dataset(actor, name)
    response = current_app.json.response(package_for(actor, dataset, in_zip=False).descriptor)
    if dataset.is_published:
        response.headers["Access-Control-Allow-Origin"] = "*"  # Frictionless tools in the browser read it
    return _cache(response, _public(dataset))
