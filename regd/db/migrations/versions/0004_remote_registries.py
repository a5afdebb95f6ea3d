"""remote registries

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:14:40.319598
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registry_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_registry_settings'))
    )
    op.create_table('remote_registries',
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('override_address', sa.String(length=255), nullable=True),
    sa.Column('ca_cert', sa.Text(), nullable=True),
    sa.Column('credentials', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_remote_registries')),
    sa.UniqueConstraint('name', name=op.f('uq_remote_registries_name'))
    )


def downgrade() -> None:
    op.drop_table('remote_registries')
    op.drop_table('registry_settings')
