"""token-signing keys and master-key records in the database

Replicas that share nothing but the database and the object store: the signing keys
(sealed with the Strongbox master key) and a record of each master key (an id and a check
value, never the key) live in tables. Existing ``keys/token-*.pem`` files are imported by
regd at its next start (sealing needs the master key, which a migration does not have).

Revision ID: 0018
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'signing_keys',
        sa.Column('kid', sa.String(length=64), nullable=False),
        sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
        sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
        sa.Column('master_key_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys')),
    )
    op.create_table(
        'master_key_records',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('check_value', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_master_key_records')),
    )


def downgrade() -> None:
    op.drop_table('master_key_records')
    op.drop_table('signing_keys')
