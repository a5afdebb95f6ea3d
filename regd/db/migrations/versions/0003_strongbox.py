"""strongbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:11:59.360765
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vaults',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('distribute', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_vaults'))
    )
    op.create_table('secrets',
    sa.Column('vault', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('allow_image_access', sa.JSON(), nullable=True),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('master_key_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['vault'], ['vaults.name'], name=op.f('fk_secrets_vault_vaults'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('vault', 'name', name=op.f('pk_secrets'))
    )


def downgrade() -> None:
    op.drop_table('secrets')
    op.drop_table('vaults')
