"""HTTP plumbing of the REST API v1: the caller, parameters and bodies, conditional GET, CORS.

Handlers stay thin: they ask this module who is calling (``caller``/``authenticated``), for
their validated query parameters (``@operation(args=…)``) and JSON body
(``json_body``), call a service, and answer with ``reply`` (ETag, 304) or ``created``.
``operation`` also records what the OpenAPI document says about the route
(``openapi.py``), so the parameters parsed and the parameters documented are the
same marshmallow schema.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Response, jsonify, request, url_for
from marshmallow import Schema, ValidationError, fields

from opendata.accounts.models import User
from opendata.api.auth import api_actor
from opendata.errors import AppError, ValidationFailed

JSON_LIMIT = 1024 * 1024  # a JSON body is metadata; files travel as uploads
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXPOSED_HEADERS = "ETag, Link, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"


class AuthenticationRequired(AppError):
    status = 401
    code = "authentication_required"
    message = "Cần khóa API (Authorization: Bearer <khóa>) để thực hiện thao tác này."


class BadParameters(AppError):
    status = 400
    code = "bad_parameters"
    message = "Tham số của yêu cầu không hợp lệ."


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    message = "Kiểu nội dung không được hỗ trợ; hãy gửi JSON (Content-Type: application/json)."


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says about one route (see ``openapi.py``)."""

    summary: str
    tag: str
    description: str = ""
    args: type[Schema] | None = None
    body: Any = None  # a schema class, a callable returning one, or "upload"
    response: Any = None  # idem; None for 204
    status: int = 200
    errors: tuple[int, ...] = ()
    auth: str = "optional"  # "optional", "required" or "none"
    paginated: bool = False
    conditional: bool = False
    path_params: Mapping[str, Any] = field(default_factory=dict)
    more: Mapping[int, str] = field(default_factory=dict)  # other success statuses, without a body
    media_types: tuple[str, ...] = ()  # other forms of the success answer (CSV, XLSX)


def operation(summary: str, *, tag: str, **options: Any) -> Callable:
    """Document a route for OpenAPI and parse its query parameters with ``args`` (into ``args=``)."""
    spec = Operation(summary=summary, tag=tag, **options)

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def run(**kwargs: Any):
            if spec.auth == "required":
                authenticated()
            if spec.args is not None:
                kwargs["args"] = parse_args(spec.args)
            return view(**kwargs)

        run.operation = spec  # type: ignore[attr-defined]
        return run

    return decorate


# --- the caller --------------------------------------------------------------------------

def caller() -> User | None:
    """The token's user, or None for an anonymous read. Raises InvalidToken (401)."""
    return api_actor()


def authenticated() -> User:
    """The token's user; writes need one. Raises AuthenticationRequired, InvalidToken (401)."""
    actor = api_actor()
    if actor is None:
        raise AuthenticationRequired()
    return actor


# --- input -------------------------------------------------------------------------------

def parse_args(schema_class: type[Schema]) -> dict[str, Any]:
    """The query string loaded by ``schema_class``: list fields take every value. Raises BadParameters (400)."""
    schema = schema_class()
    raw: dict[str, Any] = {}
    for name, item in schema.load_fields.items():
        key = item.data_key or name
        if key not in request.args:
            continue
        raw[key] = request.args.getlist(key) if isinstance(item, fields.List) else request.args.get(key)
    try:
        return schema.load(raw)
    except ValidationError as error:
        raise BadParameters(fields=error.messages) from error


def is_json() -> bool:
    mimetype = request.mimetype or ""
    return mimetype == "application/json" or mimetype.endswith("+json")


def json_body(*, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object. Raises UnsupportedMediaType (415), BadParameters (400),
    ValidationFailed (422, not an object) and RequestEntityTooLarge (413, over 1 MiB).

    With ``optional``, an empty body reads as ``{}`` (transitions without a comment).
    """
    if optional and not request.content_length and not request.mimetype:
        return {}
    if not is_json():
        raise UnsupportedMediaType()
    request.max_content_length = JSON_LIMIT
    raw = request.get_data(cache=True)
    if optional and not raw.strip():
        return {}
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadParameters("Nội dung JSON không hợp lệ.") from error
    if not isinstance(payload, dict):
        raise ValidationFailed(fields={"_schema": ["Dữ liệu gửi lên phải là một đối tượng JSON."]})
    return payload


# --- output ------------------------------------------------------------------------------

def reply(payload: Any, status: int = 200) -> Response:
    """A JSON answer; GETs carry an ETag (the body's hash) and answer 304 to a matching If-None-Match.

    Hashing the body rather than a timestamp means the ETag also changes with
    what the caller may see (a member sees drafts in a list) and with live counters.
    """
    response = jsonify(payload)
    response.status_code = status
    if request.method in {"GET", "HEAD"} and status == 200:
        response.add_etag()
        response.make_conditional(request)
    return response


def created(payload: Any, location: str) -> Response:
    response = jsonify(payload)
    response.status_code = 201
    response.headers["Location"] = location
    return response


def no_content() -> Response:
    return Response(status=204)


def page_links(total: int, page: int, per_page: int) -> dict[str, str | None]:
    """Absolute links to this list's first, previous, next and last pages, keeping every other parameter."""
    last = max(1, math.ceil(total / per_page))
    args = request.args.to_dict(flat=False)

    def at(number: int) -> str:
        return url_for(request.endpoint, **(request.view_args or {}), **{**args, "page": number}, _external=True)

    return {
        "self": at(page),
        "first": at(1),
        "prev": at(min(page - 1, last)) if page > 1 else None,
        "next": at(page + 1) if page < last else None,
        "last": at(last),
    }


def paginated(items: Iterable[Any], total: int, page: int, per_page: int, **extra: Any) -> Response:
    """A page of a list: ``{count, page, per_page, items, links, …}``, with the links in a ``Link`` header too."""
    links = page_links(total, page, per_page)
    response = reply({"count": total, "page": page, "per_page": per_page, "items": list(items), **extra,
                      "links": links})
    response.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items()
                                         if url and rel != "self")
    return response


def finish(response: Response) -> Response:
    """Every answer of the API: CORS for reads only, and caches told that answers differ by token."""
    if request.method in READ_METHODS:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if request.method == "OPTIONS":
            # Preflight: reads may send a token and validators; writes are not offered cross-origin.
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, If-None-Match, Accept"
            response.headers["Access-Control-Max-Age"] = "86400"
    response.vary.update(("Authorization", "X-CKAN-API-Key"))
    if "Cache-Control" not in response.headers:
        # Revalidate every time (cheap with the ETag); answers to a token stay out of shared caches.
        response.headers["Cache-Control"] = "private, no-cache" if request.headers.get("Authorization") \
            or request.headers.get("X-CKAN-API-Key") else "no-cache"
    return response
