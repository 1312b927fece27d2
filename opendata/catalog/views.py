"""Public pages of the catalogue, at CKAN's familiar addresses.

Views parse the request, call a service or query, and render; nothing else.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for

from opendata import authz
from opendata.authz import Action
from opendata.catalog import queries, resources, services
from opendata.catalog.document import shown_resources
from opendata.catalog.jsonld import dataset_jsonld
from opendata.catalog.workflow import STATE_LABELS, state_of
from opendata.datastore import export, ingest
from opendata.datastore import service as datastore
from opendata.datastore.query import RowQuery, open_rows
from opendata.search import service as search
from opendata.search.base import FACETS
from opendata.storage.downloads import attachment, is_first_byte_served, send_stored_file
from opendata.storage.encoding import http_charset
from opendata.web import current_actor, page_number

bp = Blueprint("catalog", __name__)


@bp.get("/")
def home():
    actor = current_actor()
    return render_template(
        "catalog/home.html",
        counts=queries.catalogue_counts(actor),
        themes=queries.themes_with_counts(actor),
        newest=queries.top_datasets(actor, "newest"),
        popular=queries.top_datasets(actor, "downloads"),
    )


SORT_LABELS = {
    "relevance": "Phù hợp nhất",
    "newest": "Mới xuất bản",
    "updated": "Mới cập nhật",
    "name": "Tên (A–Z)",
    "downloads": "Tải nhiều nhất",
}


def _render_list(template: str, *, fixed: dict[str, list[str]] | None = None, **context):
    """A search page: the request's query, filters, sort and page, plus any fixed filter."""
    q = request.args.get("q", "").strip()
    filters = {name: request.args.getlist(name) for name in FACETS if request.args.getlist(name)}
    result = search.search_datasets(current_actor(), q=q, filters={**filters, **(fixed or {})},
                                    sort=request.args.get("sort"), page=page_number())
    sort = request.args.get("sort") or ("relevance" if q else "newest")
    return render_template(template, page=result, filters=filters, fixed=fixed or {}, sort=sort, q=q,
                           sorts=SORT_LABELS if q else {k: v for k, v in SORT_LABELS.items() if k != "relevance"},
                           facet_labels=search.FACET_LABELS, **context)


@bp.get("/dataset")
def dataset_list():
    return _render_list("catalog/dataset_list.html")


@bp.get("/api/util/dataset/autocomplete")
def dataset_autocomplete():
    """CKAN's autocomplete address and answer shape, for the search boxes."""
    incomplete = request.args.get("incomplete") or request.args.get("q") or ""
    try:
        limit = max(1, min(int(request.args.get("limit", 8)), 20))
    except ValueError:
        limit = 8
    datasets = search.autocomplete(current_actor(), incomplete[:200], limit=limit)
    return jsonify({"ResultSet": {"Result": [
        {"match_field": "title", "match_displayed": dataset.title, "name": dataset.name, "title": dataset.title,
         "url": url_for("catalog.dataset_detail", name=dataset.name)}
        for dataset in datasets]}})


@bp.get("/dataset/<name>")
def dataset_detail(name: str):
    dataset = services.get_dataset(current_actor(), name)
    if dataset.name != name:  # reached by id: send people to the canonical address
        return redirect(url_for("catalog.dataset_detail", name=dataset.name), 301)
    document = dataset.document
    return render_template("catalog/dataset_detail.html", dataset=document, downloads=dataset.download_count,
                           resources=shown_resources(dataset, current_actor()), jsonld=dataset_jsonld(document),
                           state_label=STATE_LABELS.get(state_of(dataset)))


@bp.get("/dataset/<name>/resource/<resource_id>")
def resource_detail(name: str, resource_id: str):
    dataset = services.get_dataset(current_actor(), name)
    resource = resources.get_resource(dataset, resource_id)
    actor = current_actor()
    return render_template("catalog/resource_detail.html", dataset=dataset, resource=resource,
                           table=ingest.table_of(resource), can_edit=authz.can(actor, Action.DATASET_UPDATE, dataset),
                           can_download=authz.can(actor, Action.RESOURCE_DOWNLOAD, resource))


@bp.get("/dataset/<name>/resource/<resource_id>/data.<any(csv, json, xlsx):fmt>")
def resource_data(name: str, resource_id: str, fmt: str):
    """The table's rows converted: CSV (UTF-8; ``?bom=1`` for Excel), a JSON array, or XLSX."""
    dataset = services.get_dataset(current_actor(), name)
    found = datastore.readable_table(current_actor(), resources.get_resource(dataset, resource_id).id)
    result = open_rows(found.table, RowQuery(limit=None, include_total=False))
    stem = export.download_stem(found.resource)
    if fmt == "xlsx":
        response = export.xlsx_response(result, stem)
    elif fmt == "csv":
        response = export.csv_response(result, stem, bom=request.args.get("bom") == "1")
    else:
        response = Response(export.json_array_chunks(result), mimetype="application/json",
                            headers={"Content-Disposition": attachment(f"{stem}.json")})
    response.call_on_close(result.close)  # a body never read must still give its connection back
    response.headers["Cache-Control"] = "public, max-age=300" \
        if resources.publicly_downloadable(found.resource) else "private, no-cache"
    return response


@bp.get("/dataset/<name>/resource/<resource_id>/download/<path:filename>")
def resource_download(name: str, resource_id: str, filename: str):
    dataset = services.get_dataset(current_actor(), name)
    resource = resources.get_resource(dataset, resource_id)
    resources.require_download(current_actor(), resource)
    if not resource.is_upload:
        if resource.url:
            resources.count_download(resource)
            return redirect(resource.url, 302)
        abort(404)
    response = send_stored_file(
        resources.resource_path(resource), download_name=resource.filename or filename,
        media_type=resource.media_type, sha256=resource.sha256, modified=resource.updated_at,
        public=resources.publicly_downloadable(resource), charset=http_charset(resource.encoding),
    )
    # The page's own map preview fetches the file (Sec-Fetch-Dest: empty): a view, not a download.
    if request.method == "GET" and is_first_byte_served(response) and request.headers.get("Sec-Fetch-Dest") != "empty":
        resources.count_download(resource)
    return response


@bp.get("/organization")
def agency_list():
    return render_template("catalog/agency_list.html", agencies=queries.agencies_with_counts(current_actor()))


@bp.get("/organization/<name>")
def agency_detail(name: str):
    agency = services.get_agency(name)
    return _render_list("catalog/agency_detail.html", fixed={"organization": [agency.name]}, agency=agency)


@bp.get("/group")
def theme_list():
    return render_template("catalog/theme_list.html", themes=queries.themes_with_counts(current_actor()))


@bp.get("/group/<name>")
def theme_detail(name: str):
    theme = services.get_theme(name)
    return _render_list("catalog/theme_detail.html", fixed={"groups": [theme.name]}, theme=theme)


@bp.get("/about")
def about():
    return render_template("about.html", counts=queries.catalogue_counts(current_actor()))


from opendata.catalog import preview  # noqa: E402,F401  (registers the inline route and the preview template global)
