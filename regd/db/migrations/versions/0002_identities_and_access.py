"""identities and access

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:04:22.696888
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_rules',
    sa.Column('repository', sa.String(length=255), nullable=False),
    sa.Column('principal_kind', sa.String(length=16), nullable=False),
    sa.Column('principal_id', sa.String(length=64), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('repository', 'principal_kind', 'principal_id', name=op.f('pk_access_rules'))
    )
    op.create_table('api_clients',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('secret_hash', sa.String(length=255), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('namespace', sa.String(length=255), nullable=True),
    sa.Column('grants', sa.JSON(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_clients'))
    )
    op.create_table('namespace_owners',
    sa.Column('namespace', sa.String(length=255), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('namespace', name=op.f('pk_namespace_owners'))
    )
    op.create_table('policies',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_policies'))
    )
    op.create_table('policy_bindings',
    sa.Column('policy', sa.String(length=64), nullable=False),
    sa.Column('principal_kind', sa.String(length=16), nullable=False),
    sa.Column('principal_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('policy', 'principal_kind', 'principal_id', name=op.f('pk_policy_bindings'))
    )
    op.create_table('role_bindings',
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('principal_kind', sa.String(length=16), nullable=False),
    sa.Column('principal_id', sa.String(length=64), nullable=False),
    sa.Column('namespace', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('role', 'principal_kind', 'principal_id', 'namespace', name=op.f('pk_role_bindings'))
    )
    op.create_table('tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('principal_kind', sa.String(length=16), nullable=False),
    sa.Column('principal_id', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('parent', sa.String(length=32), nullable=True),
    sa.Column('policies', sa.JSON(), nullable=True),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.Column('revoked_at', sa.Float(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tokens'))
    )
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.create_index('ix_tokens_principal', ['principal_kind', 'principal_id'], unique=False)

    op.create_table('users',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_users'))
    )


def downgrade() -> None:
    op.drop_table('users')
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_tokens_principal')

    op.drop_table('tokens')
    op.drop_table('role_bindings')
    op.drop_table('policy_bindings')
    op.drop_table('policies')
    op.drop_table('namespace_owners')
    op.drop_table('api_clients')
    op.drop_table('access_rules')
