"""Publisher pages: the dashboard, dataset and resource forms, and the workflow buttons.

Each view reads the form, calls one service and renders or redirects; the services
authorize and validate. Validation errors come back as the same form with the
fields marked (HTTP 422); workflow refusals as a message on the edit page (409).
"""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from opendata import authz
from opendata.accounts.models import User
from opendata.authz import Action
from opendata.catalog import resources, services, workflow
from opendata.catalog.schemas import TABLE_SCHEMA_TYPES
from opendata.errors import AppError, NotFound, ValidationFailed
from opendata.extensions import db
from opendata.privacy import gate
from opendata.privacy.scanner import KIND_LABELS
from opendata.publishing import forms, queries
from opendata.datastore.ingest import table_of
from opendata.publishing.columns import columns_of, described_fields
from opendata.web import safe_next

bp = Blueprint("publish", __name__)
DONE_MESSAGES = {
    "submit": "Đã gửi duyệt; quản trị viên của cơ quan sẽ xem xét.",
    "approve": "Đã duyệt: bộ dữ liệu đã được công bố.",
    "reject": "Đã trả lại bộ dữ liệu cho người biên tập kèm lý do.",
    "publish": "Bộ dữ liệu đã được công bố.",
    "withdraw": "Đã ngừng công bố bộ dữ liệu.",
    "delete": "Đã chuyển bộ dữ liệu vào thùng rác; quản trị viên có thể khôi phục.",
    "restore": "Đã khôi phục bộ dữ liệu.",
    "purge": "Đã xóa vĩnh viễn bộ dữ liệu và các tệp của nó.",
}


def _actor() -> User:
    return current_user._get_current_object()


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _refusal(error: AppError) -> str:
    """A refused step's message with its field messages (the gate's blockers, a missing reason)."""
    details = [message for messages in error.fields.values()
               for message in (messages if isinstance(messages, list) else [messages])]
    return " ".join([error.message, *[message for message in details if message not in error.message]])


def _edit_url(name: str) -> str:
    return url_for("publish.dataset_edit", name=name)


@bp.get("/dashboard")
@login_required
def dashboard():
    boards = queries.dashboard(_actor(), request.args.get("agency"))
    return render_template("publishing/dashboard.html", boards=boards, state_labels=workflow.STATE_LABELS,
                           state_order=queries.STATE_ORDER, can_create=bool(queries.creatable_agencies(_actor())))


@bp.post("/organization/<name>/publishing")
@login_required
def agency_publishing(name: str):
    """The agency's choice: review by an admin, or editors publish directly."""
    agency = services.get_agency(name)
    services.update_agency(_actor(), agency, {"editors_publish": request.form.get("editors_publish") == "on"})
    flash("Đã lưu cách công bố của cơ quan.", "success")
    return redirect(url_for("publish.dashboard", agency=name), 303)


def _render_dataset_form(dataset=None, values=None, errors=None, status=200, refusal=None):
    actor = _actor()
    context = {"dataset": dataset, "refusal": refusal, "values": forms.form_values(values or {}), "errors": errors or {},
               "fields": forms.editable_fields("dataset"), "agencies": queries.creatable_agencies(actor)}
    if dataset is not None:
        context.update(transitions=workflow.available(actor, dataset), blockers=gate.blockers(dataset),
                       state=workflow.state_of(dataset), state_labels=workflow.STATE_LABELS,
                       overridable=gate.override_entries(dataset), scans={
                           resource.id: (gate.report_of(resource), gate.resource_blocker(dataset, resource))
                           for resource in dataset.resources})
    return render_template("publishing/dataset_form.html", **context), status


@bp.route("/dataset/new", methods=["GET", "POST"])
@login_required
def dataset_new():
    if request.method == "GET":
        agencies = queries.creatable_agencies(_actor())
        preset = request.args.get("agency") or (agencies[0].name if len(agencies) == 1 else None)
        return _render_dataset_form(values={"agency": preset, "language": ["vi"]})
    payload = forms.dataset_payload(request.form)
    try:
        dataset = services.create_dataset(_actor(), payload)
    except ValidationFailed as error:
        return _render_dataset_form(values=payload, errors=error.fields, status=error.status)
    flash("Đã tạo bản nháp. Hãy tải lên các tệp dữ liệu.", "success")
    return redirect(url_for("publish.resource_new", name=dataset.name), 303)


@bp.route("/dataset/edit/<name>", methods=["GET", "POST"])
@login_required
def dataset_edit(name: str):
    dataset = services.get_dataset(_actor(), name)
    services.require_editable(_actor(), dataset)
    if request.method == "GET":
        return _render_dataset_form(dataset, values=services.dump_dataset(dataset))
    payload = forms.dataset_payload(request.form)
    try:
        services.update_dataset(_actor(), dataset, payload)
    except ValidationFailed as error:
        return _render_dataset_form(dataset, values=payload, errors=error.fields, status=error.status)
    flash("Đã lưu thay đổi.", "success")
    return redirect(_edit_url(dataset.name), 303)


def _refused(dataset, error: AppError):
    """A refused step (409) or a missing reason (422): the edit page again, saying why."""
    if error.status not in (409, 422) or not authz.can(_actor(), Action.DATASET_UPDATE, dataset):
        raise error
    db.session.rollback()
    return _render_dataset_form(dataset, values=services.dump_dataset(dataset), status=error.status,
                                refusal=_refusal(error))


@bp.post("/dataset/<name>/workflow/<transition>")
@login_required
def dataset_transition(name: str, transition: str):
    if transition not in workflow.TRANSITIONS:
        raise NotFound("Thao tác không tồn tại.")
    dataset = services.get_dataset(_actor(), name)
    step = getattr(workflow, transition)
    arguments = (request.form.get("comment", ""),) if transition in {"reject", "withdraw"} else ()
    try:
        result = step(_actor(), dataset, *arguments)
    except AppError as error:
        return _refused(dataset, error)
    flash(DONE_MESSAGES.get(transition, f"Đã thực hiện: {workflow.TRANSITIONS[transition].label}."), "success")
    if transition == "purge" or result is None or result.deleted_at is not None:
        return redirect(url_for("publish.dashboard"), 303)
    return redirect(safe_next(request.form.get("next")) or _edit_url(name), 303)


@bp.post("/dataset/<name>/privacy-override")
@login_required
def privacy_override(name: str):
    dataset = services.get_dataset(_actor(), name)
    try:
        workflow.override_privacy(_actor(), dataset, request.form.get("reason", ""))
    except AppError as error:
        return _refused(dataset, error)
    flash("Đã ghi nhận xác nhận và lý do.", "success")
    return redirect(_edit_url(name), 303)


@bp.route("/dataset/<name>/resource/new", methods=["GET", "POST"])
@login_required
def resource_new(name: str):
    dataset = services.get_dataset(_actor(), name)
    services.require_editable(_actor(), dataset, upload=True)
    if request.method == "GET":
        return render_template("publishing/resource_new.html", dataset=dataset, values={}, errors={})
    payload = forms.resource_payload(request.form)
    files = [item for item in request.files.getlist("file") if item.filename]
    try:
        if files:
            created = [resources.add_resource(_actor(), dataset, payload if len(files) == 1 else
                                              {k: v for k, v in payload.items() if k != "name"},
                                              resources.Upload(item.stream, item.filename)) for item in files]
        else:
            created = [resources.add_resource(_actor(), dataset, payload)]
    except ValidationFailed as error:
        if _wants_json():
            raise
        return render_template("publishing/resource_new.html", dataset=dataset, values=payload,
                               errors=error.fields), error.status
    target = url_for("publish.resource_edit", name=dataset.name, resource_id=created[-1].id) \
        if len(created) == 1 else _edit_url(dataset.name)
    if _wants_json():
        return jsonify({"resources": [{"id": r.id, "name": r.name, "format": r.format, "size": r.size,
                                       "sha256": r.sha256, "encoding": (r.extras or {}).get("encoding_label")}
                                      for r in created], "redirect": target}), 201
    flash(f"Đã thêm {len(created)} tài nguyên.", "success")
    return redirect(target, 303)


def _render_resource_form(dataset, resource, errors=None, status=200):
    columns = columns_of(resource)
    return render_template("publishing/resource_form.html", dataset=dataset, resource=resource,
                           errors=errors or {}, columns=columns, described=described_fields(resource),
                           table_types=sorted(TABLE_SCHEMA_TYPES), table=table_of(resource), can_edit=True, can_download=True,
                           report=gate.report_of(resource), blocker=gate.resource_blocker(dataset, resource),
                           kind_labels=KIND_LABELS), status


@bp.route("/dataset/<name>/resource/<resource_id>/edit", methods=["GET", "POST"])
@login_required
def resource_edit(name: str, resource_id: str):
    dataset = services.get_dataset(_actor(), name)
    resource = resources.get_resource(dataset, resource_id)
    services.require_editable(_actor(), dataset, upload=True)
    if request.method == "GET":
        return _render_resource_form(dataset, resource)
    replacement = request.files.get("file")
    upload = resources.Upload(replacement.stream, replacement.filename) \
        if replacement is not None and replacement.filename else None
    payload = forms.resource_payload(request.form)
    columns = columns_of(resource)
    if columns and request.form.get("dictionary") == "1" and upload is None:
        payload["schema"] = forms.table_schema(request.form, columns)  # a new file's columns may differ
    if "chart-type" in request.form and upload is None:
        payload["chart"] = forms.chart_choice(request.form)
    try:
        resources.update_resource(_actor(), dataset, resource, payload, upload)
    except ValidationFailed as error:
        return _render_resource_form(dataset, resource, errors=error.fields, status=error.status)
    flash("Đã lưu tài nguyên.", "success")
    return redirect(url_for("publish.resource_edit", name=dataset.name, resource_id=resource.id), 303)


@bp.post("/dataset/<name>/resource/<resource_id>/delete")
@login_required
def resource_delete(name: str, resource_id: str):
    dataset = services.get_dataset(_actor(), name)
    resource = resources.get_resource(dataset, resource_id)
    resources.delete_resource(_actor(), dataset, resource)
    flash("Đã xóa tài nguyên.", "success")
    return redirect(_edit_url(dataset.name), 303)


@bp.post("/dataset/<name>/resources/order")
@login_required
def resource_order(name: str):
    dataset = services.get_dataset(_actor(), name)
    move = request.form.get("move")  # "<id>:up" or "<id>:down" from the no-JavaScript buttons
    if move:
        resource_id, _, direction = move.partition(":")
        resources.move_resource(_actor(), dataset, resource_id, direction)
    else:
        resources.reorder_resources(_actor(), dataset, request.form.getlist("order"))
    if _wants_json():
        return jsonify({"order": [resource.id for resource in dataset.resources]})
    return redirect(_edit_url(dataset.name) + "#resources", 303)
