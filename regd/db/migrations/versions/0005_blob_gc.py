"""garbage collection and the pull-through cache's LRU

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('blobs', sa.Column('last_used_at', sa.Float(), nullable=True))
    op.create_index('ix_repository_blobs_digest', 'repository_blobs', ['digest'])
    op.create_index(
        'ix_manifest_references_child', 'manifest_references', ['repository_id', 'child']
    )


def downgrade() -> None:
    op.drop_index('ix_manifest_references_child', table_name='manifest_references')
    op.drop_index('ix_repository_blobs_digest', table_name='repository_blobs')
    with op.batch_alter_table('blobs') as batch:
        batch.drop_column('last_used_at')
