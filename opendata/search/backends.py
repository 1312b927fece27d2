"""Choose the search backend from ``OPENDATA_SEARCH`` (``whoosh`` or ``postgres``)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from opendata.search.base import SearchBackend
from opendata.search.postgres_index import PostgresBackend
from opendata.search.whoosh_index import WhooshBackend


def make_backend(app: Flask) -> SearchBackend:
    kind = app.config["SEARCH"]
    if kind == "whoosh":
        return WhooshBackend(Path(app.config["SEARCH_PATH"]))
    if kind == "postgres":
        if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            raise RuntimeError("OPENDATA_SEARCH=postgres needs OPENDATA_DATABASE_URL to be a PostgreSQL database")
        return PostgresBackend()
    raise RuntimeError(f"unknown search backend {kind!r}: choose whoosh or postgres")


def backend() -> SearchBackend:
    """The current app's backend, made once per process."""
    return current_app.extensions["opendata_search"]
