"""an index on api_clients.secret_hash: a client found by its secret alone

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_api_clients_secret_hash', 'api_clients', ['secret_hash'])


def downgrade() -> None:
    op.drop_index('ix_api_clients_secret_hash', table_name='api_clients')
