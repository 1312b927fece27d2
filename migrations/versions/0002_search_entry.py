"""PostgreSQL full-text search table (OPENDATA_SEARCH=postgres); nothing on SQLite.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

FACETS = ("organization", "groups", "tags", "res_format", "license_id", "update_frequency", "year")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # the embedded Whoosh backend keeps its index in files
    op.create_table(
        "search_entry",
        sa.Column("id", sa.String(36), primary_key=True),
        # Small integers naming rows in the per-process facet bitmaps (search/facets.py).
        sa.Column("docnum", sa.BigInteger(), sa.Identity(always=False), nullable=False, unique=True),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("tsv", postgresql.TSVECTOR(), nullable=False),
        sa.Column("tsv_exact", postgresql.TSVECTOR(), nullable=False),
        # Title and keywords only: the first ranking tier, small enough to rank fast.
        sa.Column("tsv_strong", postgresql.TSVECTOR(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("agency_id", sa.String(36), nullable=False),
        sa.Column("published", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("downloads", sa.BigInteger(), nullable=False),
        sa.Column("name_sort", sa.Text(), nullable=False),
        *(sa.Column(f"facet_{name}", postgresql.ARRAY(sa.Text()), nullable=False) for name in FACETS),
    )
    op.create_index("ix_search_entry_tsv", "search_entry", ["tsv"], postgresql_using="gin")
    op.create_index("ix_search_entry_tsv_exact", "search_entry", ["tsv_exact"], postgresql_using="gin")
    op.create_index("ix_search_entry_tsv_strong", "search_entry", ["tsv_strong"], postgresql_using="gin")
    for name in ("organization", "groups", "tags", "res_format"):
        op.create_index(f"ix_search_entry_{name}", "search_entry", [f"facet_{name}"], postgresql_using="gin")
    op.create_index("ix_search_entry_state", "search_entry", ["state", "agency_id"])
    # Bumped by every index write, so each app server knows when its caches are stale.
    op.create_table("search_state", sa.Column("id", sa.SmallInteger(), primary_key=True),
                    sa.Column("generation", sa.BigInteger(), nullable=False))
    op.execute("INSERT INTO search_state (id, generation) VALUES (1, 0)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_table("search_state")
        op.drop_table("search_entry")
