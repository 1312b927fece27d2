"""The REST API v1 (``/api/v1/``) and its documentation (``/api/docs``).

Thin handlers, one module per kind of object, each with its blueprint; this
package joins them under ``/api`` and gives every answer its CORS and cache headers
(``http.finish``). Errors are rendered by ``opendata.errors`` in the one JSON shape.
"""

from __future__ import annotations

from flask import Blueprint

from opendata.api.v1 import agencies, datasets, me, openapi, resources, rows, vocabularies
from opendata.api.v1.http import finish

bp = Blueprint("rest", __name__, url_prefix="/api")
for child in (datasets.bp, resources.bp, rows.bp, agencies.bp, vocabularies.bp, me.bp):
    bp.register_blueprint(child, url_prefix="/v1")
bp.register_blueprint(openapi.bp)
bp.after_request(finish)

__all__ = ["bp"]
