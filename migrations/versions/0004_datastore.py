"""Datastore: which table holds each tabular resource's rows, and how its load went.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'datastore_table',
        sa.Column('resource_id', sa.String(36), nullable=False),
        sa.Column('table_name', sa.String(63), nullable=True),
        sa.Column('loading_table', sa.String(63), nullable=True),
        sa.Column('sha256', sa.String(64), nullable=True),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('rows', sa.BigInteger(), nullable=False),
        sa.Column('loading_rows', sa.BigInteger(), nullable=False),
        sa.Column('progress', sa.Float(), nullable=False),
        sa.Column('fields', sa.JSON(), nullable=False),
        sa.Column('report', sa.JSON(), nullable=True),
        sa.Column('queued_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['resource_id'], ['resource.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('resource_id'),
    )


def downgrade():
    # The tables holding the rows go with the bookkeeping (every ds_ table, orphans and FTS indexes too).
    from opendata.datastore.sql import drop_all

    drop_all(op.get_bind())
    op.drop_table('datastore_table')
