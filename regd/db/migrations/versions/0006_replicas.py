"""replicas on PostgreSQL: byte-ordered names, cache generations

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'repositories',
        sa.Column('generation', sa.BigInteger(), nullable=False, server_default='0'),
    )
    generations = op.create_table(
        'generations',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_generations')),
    )
    op.bulk_insert(generations, [{'name': 'auth', 'value': 0}])
    if op.get_bind().dialect.name == 'postgresql':
        # Catalog and tag listings are in code-point order (SQLite compares bytes already).
        op.execute('ALTER TABLE repositories ALTER COLUMN name TYPE VARCHAR(255) COLLATE "C"')
        op.execute('ALTER TABLE tags ALTER COLUMN name TYPE VARCHAR(128) COLLATE "C"')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE tags ALTER COLUMN name TYPE VARCHAR(128) COLLATE "default"')
        op.execute('ALTER TABLE repositories ALTER COLUMN name TYPE VARCHAR(255) COLLATE "default"')
    op.drop_table('generations')
    with op.batch_alter_table('repositories') as batch:
        batch.drop_column('generation')
