"""CKAN's Action API v3: ``/api/3/action/<action>`` and ``/api/action/<action>``, GET and POST.

The view reads the parameters (query string, JSON body, form or multipart), finds the
caller from the API token only (``api.auth.api_actor``), runs the action and wraps its
result in CKAN's envelope ``{"help", "success", "result"}``. Errors are mapped once,
here, to CKAN's types and statuses, which ``ckanapi`` turns back into its exceptions:

    NotFound                              404  "Not Found Error"
    Forbidden, an invalid token           403  "Authorization Error"
    ValidationFailed, Conflict, other     409  "Validation Error" (413 for a file too large)
    an fq or sort outside the subset      400  "Search Query Error"
    an unknown action, a body not JSON    400  "Bad request: …" (a JSON string, as CKAN sends)
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from opendata.api.v1.http import JSON_LIMIT, finish
from opendata.api.auth import InvalidToken, api_actor
from opendata.api.ckan import datastore, read, write
from opendata.api.ckan.fq import FilterSyntaxError
from opendata.api.ckan.params import Params
from opendata.errors import AppError, Forbidden, NotFound, PayloadTooLarge
from opendata.extensions import db

bp = Blueprint("ckan", __name__)
bp.after_request(finish)  # CORS for reads; answers to a token stay out of shared caches


def help_show(actor, params: Params) -> str:
    """The documentation of an action."""
    name = params.first("name")
    if name not in ACTIONS:
        raise NotFound(f"Không có thao tác {name}.")
    return (ACTIONS[name].__doc__ or name).strip()


ACTIONS = {**read.ACTIONS, **write.ACTIONS, **datastore.ACTIONS, "help_show": help_show}
# CKAN renames a few fields in its error dicts; the portal's schema names them otherwise.
CKAN_FIELD_NAMES = {"agency": "owner_org", "themes": "groups", "file": "upload"}


class BadRequest(Exception):
    """A request CKAN refuses before running any action (unknown action, unreadable body)."""


def _help_url(name: str) -> str:
    return f"{request.host_url}api/3/action/help_show?name={name}"


def _envelope(name: str, body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify({"help": _help_url(name), **body})
    response.status_code = status
    return response


def _params() -> Params:
    if request.method == "GET":
        return Params(request.args.to_dict())
    if request.mimetype in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        form = request.form.to_dict()
        # curl -d '{"id": …}' sends JSON as a form field with no value: read it as JSON, as CKAN does.
        if request.mimetype != "multipart/form-data" and len(form) == 1 and next(iter(form.values())) == "":
            return Params(_json(next(iter(form))))
        return Params(form, request.files.to_dict())
    request.max_content_length = JSON_LIMIT  # metadata only: files come as multipart uploads
    body = request.get_data(cache=False, as_text=True)
    return Params(_json(body) if body.strip() else {})


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise BadRequest(f"JSON Error: {error}") from None
    if not isinstance(data, dict):
        raise BadRequest("JSON Error: the request body must be a JSON object")
    return data


@bp.route("/api/3/action/<name>", methods=["GET", "POST"])
@bp.route("/api/action/<name>", methods=["GET", "POST"])
def action(name: str):
    handler = ACTIONS.get(name)
    if handler is None:
        raise BadRequest(f"Action name not known: {name}")
    result = handler(_actor(), _params())
    return _envelope(name, {"success": True, "result": result})


@bp.get("/api/util/status")
@bp.get("/api/3/util/status")
def util_status():
    """udata's CKAN harvester asks here: the same answer as status_show."""
    return _envelope("status_show", {"success": True, "result": read.status_show(None, Params({}))})


def _actor():
    try:
        return api_actor()
    except InvalidToken as error:
        raise Forbidden(error.message) from error


def _action_name() -> str:
    return (request.view_args or {}).get("name") or "status_show"


def _error(status: int, kind: str, message: str, fields: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"__type": kind, "message": message}
    for field, messages in (fields or {}).items():
        body[CKAN_FIELD_NAMES.get(field, field)] = messages
    return _envelope(_action_name(), {"success": False, "error": body}, status)


@bp.errorhandler(AppError)
def handle_app_error(error: AppError):
    db.session.rollback()
    if isinstance(error, NotFound):
        return _error(404, "Not Found Error", f"Not found: {error.message}")
    if isinstance(error, (Forbidden, InvalidToken)):
        return _error(403, "Authorization Error", f"Access denied: {error.message}")
    status = 413 if isinstance(error, PayloadTooLarge) else 409
    return _error(status, "Validation Error", error.message, error.fields)


@bp.errorhandler(FilterSyntaxError)
def handle_search_query_error(error: FilterSyntaxError):
    db.session.rollback()
    return _error(400, "Search Query Error", f"Search Query is invalid: {error}")


@bp.errorhandler(BadRequest)
def handle_bad_request(error: BadRequest):
    db.session.rollback()
    response = jsonify(f"Bad request - {error}" if str(error).startswith("JSON") else f"Bad request: {error}")
    response.status_code = 400
    return response


@bp.errorhandler(RequestEntityTooLarge)
def handle_too_large(error: HTTPException):
    limit = current_app.config["MAX_UPLOAD_SIZE"]
    return _error(413, "Validation Error", PayloadTooLarge.message,
                  {"upload": [f"Tối đa {limit} byte."]})
