"""upload sessions name their repository instead of creating it

An upload session used to point at a repository row, so ``POST /v2/<name>/blobs/uploads/``
alone created the repository (it showed in the catalog with nothing in it). A session now
holds the repository's name; the repository appears with its first blob link or manifest.

Revision ID: 0011
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0008'
branch_labels = None
depends_on = None


def _uploads(name: str, repository: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column('id', sa.String(length=64), nullable=False),
        repository,
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}')),
    )


def upgrade() -> None:
    # Copy aside, recreate, copy back: one way that works on SQLite and PostgreSQL alike.
    _uploads('uploads_0011', sa.Column('repository', sa.String(length=255), nullable=False))
    op.execute(
        'INSERT INTO uploads_0011 (id, repository, created_at) '
        'SELECT uploads.id, repositories.name, uploads.created_at '
        'FROM uploads JOIN repositories ON repositories.id = uploads.repository_id'
    )
    op.drop_table('uploads')
    _uploads('uploads', sa.Column('repository', sa.String(length=255), nullable=False))
    op.execute(
        'INSERT INTO uploads (id, repository, created_at) '
        'SELECT id, repository, created_at FROM uploads_0011'
    )
    op.drop_table('uploads_0011')


def downgrade() -> None:
    op.execute(
        'INSERT INTO repositories (name, created_at, generation) '
        'SELECT DISTINCT repository, 0, 0 FROM uploads '
        'WHERE repository NOT IN (SELECT name FROM repositories)'
    )
    _uploads('uploads_0006', sa.Column('repository_id', sa.Integer(), nullable=False))
    op.execute(
        'INSERT INTO uploads_0006 (id, repository_id, created_at) '
        'SELECT uploads.id, repositories.id, uploads.created_at '
        'FROM uploads JOIN repositories ON repositories.name = uploads.repository'
    )
    op.drop_table('uploads')
    op.create_table(
        'uploads',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('repository_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ['repository_id'],
            ['repositories.id'],
            name=op.f('fk_uploads_repository_id_repositories'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_uploads')),
    )
    op.execute(
        'INSERT INTO uploads (id, repository_id, created_at) '
        'SELECT id, repository_id, created_at FROM uploads_0006'
    )
    op.drop_table('uploads_0006')
