"""The migrations, applied from empty, give exactly the schema that the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from opendata.extensions import db


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert [change for change in diff if change[0] != "remove_table" or change[1].name != "alembic_version"] == []
