"""Publishing: invitations, login throttling, direct publishing per agency, the
personal-data scan and override, detected encodings, and an append-only activity table.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

from opendata.activity.immutability import drop_triggers, install_triggers

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user') as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('agency') as batch_op:
        batch_op.add_column(sa.Column('editors_publish', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('dataset') as batch_op:
        batch_op.add_column(sa.Column('privacy_override', sa.JSON(), nullable=True))
    with op.batch_alter_table('resource') as batch_op:
        batch_op.add_column(sa.Column('encoding', sa.String(40), nullable=True))
        batch_op.add_column(sa.Column('privacy_scan', sa.JSON(), nullable=True))

    op.create_table(
        'invitation',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('email', sa.String(255), nullable=False),
        sa.Column('agency_id', sa.String(36), nullable=False),
        sa.Column('role', sa.String(20), nullable=False),
        sa.Column('invited_by_id', sa.String(36), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('accepted_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('user_id', sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_invitation_agency_id_agency'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invited_by_id'], ['user.id'], name=op.f('fk_invitation_invited_by_id_user'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_invitation_user_id_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_invitation_token_hash')),
    )
    with op.batch_alter_table('invitation') as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitation_email'), ['email'], unique=False)

    op.create_table(
        'login_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(255), nullable=False),
        sa.Column('address', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt')),
    )
    with op.batch_alter_table('login_attempt') as batch_op:
        batch_op.create_index('ix_login_attempt_account', ['account', 'created_at'], unique=False)
        batch_op.create_index('ix_login_attempt_address', ['address', 'created_at'], unique=False)

    install_triggers(op.get_bind())


def downgrade():
    drop_triggers(op.get_bind())
    op.drop_table('login_attempt')
    op.drop_table('invitation')
    with op.batch_alter_table('resource') as batch_op:
        batch_op.drop_column('privacy_scan')
        batch_op.drop_column('encoding')
    with op.batch_alter_table('dataset') as batch_op:
        batch_op.drop_column('privacy_override')
    with op.batch_alter_table('agency') as batch_op:
        batch_op.drop_column('editors_publish')
    with op.batch_alter_table('user') as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('active')
