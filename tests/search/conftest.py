"""Search tests run once per backend: Whoosh (on SQLite) and PostgreSQL full-text search
(on the PostgreSQL server, when OPENDATA_TEST_DATABASE_URL names one)."""

import pytest

from tests.conftest import POSTGRES_URL, make_test_app, migrated_database

COMBINATIONS = [("sqlite", "whoosh")] + ([("postgres", "postgres")] if POSTGRES_URL else [])


@pytest.fixture(params=COMBINATIONS, ids=lambda combination: combination[1])
def app(request, tmp_path, tmp_path_factory):
    database, search = request.param
    yield from make_test_app(migrated_database(database, tmp_path_factory), tmp_path, SEARCH=search)
