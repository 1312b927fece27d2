"""The migrations, applied from empty, give exactly the schema that the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from opendata.extensions import db


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    # Tables that are not models: Alembic's own, and the PostgreSQL search backend's.
    others = {"alembic_version", "search_entry", "search_state"}
    def foreign(change) -> bool:
        item = change[1]
        table = getattr(item, "table", item)
        return change[0] in {"remove_table", "remove_index"} and table.name in others

    assert [change for change in diff if not foreign(change)] == []
