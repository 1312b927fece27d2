"""Shared fixtures: the app on SQLite and, when ``OPENDATA_TEST_DATABASE_URL`` is set,
on PostgreSQL too; the schema comes from the Alembic migrations, and every test
starts from empty tables.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from opendata import create_app
from opendata.accounts.services import system_actor
from opendata.activity.immutability import drop_triggers, install_triggers
from opendata.datastore.sql import drop_all as drop_datastore_tables
from opendata.catalog.services import sync_vocabularies
from opendata.extensions import db

POSTGRES_URL = os.environ.get("OPENDATA_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
FIXTURES = Path(__file__).parent / "fixtures"


def _migrated_url(backend: str, tmp_path_factory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return POSTGRES_URL


_MIGRATED: dict[str, str] = {}


def migrated_database(backend: str, tmp_path_factory) -> str:
    """The URL of an empty database of ``backend``, upgraded by the migrations once per session."""
    if backend in _MIGRATED:
        return _MIGRATED[backend]
    url = _migrated_url(backend, tmp_path_factory)
    app = create_app({"DATABASE_URL": url, "SQLALCHEMY_DATABASE_URI": url,
                      "INSTANCE": str(tmp_path_factory.mktemp("instance"))})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    _MIGRATED[backend] = url
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:
    """A migrated database, once per backend: every test runs on SQLite and PostgreSQL."""
    return migrated_database(request.param, tmp_path_factory)


def make_test_app(database_url: str, tmp_path: Path, **overrides):
    """An app on a migrated database; yields inside its context, then empties every table."""
    app = create_app({
        "TESTING": True,
        "INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STORAGE_PATH": str(tmp_path / "files"),
        "SECRET_KEY": "test-secret",
        "TASK_QUEUE": "immediate",
        **overrides,
    })
    with app.app_context():
        sync_vocabularies()
        yield app
        db.session.remove()
        with db.engine.begin() as connection:
            # The audit trail refuses deletes (activity/immutability.py); tests start empty.
            if database_url.startswith("postgresql"):
                # A query a test left open would make the drops below wait for ever: fail instead.
                connection.execute(text("SET LOCAL lock_timeout = '20s'"))
            drop_triggers(connection)
            drop_datastore_tables(connection)
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
            install_triggers(connection)
            if database_url.startswith("postgresql"):
                connection.execute(text("DELETE FROM search_entry"))
                connection.execute(text("UPDATE search_state SET generation = generation + 1"))
        db.engine.dispose()


@pytest.fixture
def app(database_url, tmp_path):
    yield from make_test_app(database_url, tmp_path)


class RequestScopedClient(FlaskClient):
    """A test client whose requests each identify their user afresh.

    The tests keep one app context pushed (to call services between requests),
    and Flask reuses it for requests, so Flask-Login's cached user in ``g`` would
    leak from one request to the next; in production every request has its own.
    """

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        g.pop("csrf_token", None)  # Flask-WTF caches the session's token in g too
        g.pop("api_actor", None)  # and the APIs their caller
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = RequestScopedClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def system(app):
    return system_actor()
