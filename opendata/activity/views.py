"""History pages: a dataset's changes, an agency's activity stream, the portal's audit log.

The addresses are CKAN's (``/dataset/activity/<name>``, ``/organization/activity/<name>``).
A dataset's history is open to whoever may read the dataset; an agency's stream to
its members and sysadmins; the audit log to sysadmins only.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request
from flask_login import login_required

from opendata import authz
from opendata.activity import queries
from opendata.authz import Action
from opendata.catalog import services as catalog
from opendata.catalog.workflow import STATE_LABELS, state_of
from opendata.web import current_actor, page_number

bp = Blueprint("activity", __name__)


@bp.after_request
def _private(response):
    # Unpublished work, members' names and reasons: never kept by a shared cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _date(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/dataset/activity/<name>")
def dataset_history(name: str):
    dataset = catalog.get_dataset(current_actor(), name)
    return render_template("activity/dataset_history.html", dataset=dataset,
                           state_label=STATE_LABELS[state_of(dataset)],
                           page=queries.dataset_history(dataset, page_number()))


@bp.get("/organization/activity/<name>")
@login_required
def agency_stream(name: str):
    agency = catalog.get_agency(name)
    authz.require(current_actor(), Action.AGENCY_READ_ACTIVITY, agency)
    return render_template("activity/agency_stream.html", agency=agency, page=queries.agency_stream(agency, page_number()))


@bp.get("/ckan-admin/audit")
@login_required
def audit_log():
    authz.require(current_actor(), Action.AUDIT_READ)
    filters = queries.AuditFilters(
        verb=request.args.get("verb", "").strip(), actor=request.args.get("actor", "").strip(),
        agency=request.args.get("agency", "").strip(), object=request.args.get("object", "").strip(),
        date_from=_date("from"), date_to=_date("to"),
    )
    agencies = queries.agency_choices()
    return render_template("activity/audit_log.html", filters=filters, agencies=agencies,
                           agency_titles={agency.id: agency.title for agency in agencies},
                           verb_groups=queries.VERB_GROUPS,
                           page=queries.audit_log(filters, page_number()))
