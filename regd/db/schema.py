"""The metadata schema (SQLAlchemy Core). Changes go through an Alembic migration."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: A repository; created by its first upload, mount or manifest.
repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    # Never reuse the id of a deleted repository: caches are keyed by id.
    sqlite_autoincrement=True,
)

#: Blobs committed to storage (content-addressed, shared by all repositories).
blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: A blob is visible in a repository only once it was pushed or mounted there.
repository_blobs = sa.Table(
    "repository_blobs",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: Manifests with their raw bytes, so digests stay stable.
manifests = sa.Table(
    "manifests",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("media_type", sa.String(255), nullable=False),
    sa.Column("artifact_type", sa.String(255), nullable=True),
    sa.Column("subject", sa.String(200), nullable=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_manifests_subject", "repository_id", "subject"),
)

#: What a manifest references: its config and layers, or an index's children.
manifest_references = sa.Table(
    "manifest_references",
    metadata,
    sa.Column("repository_id", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("child", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "blob" | "manifest"
    sa.ForeignKeyConstraint(
        ["repository_id", "digest"],
        ["manifests.repository_id", "manifests.digest"],
        ondelete="CASCADE",
    ),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("digest", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_tags_digest", "repository_id", "digest"),
)

#: Upload sessions in flight; their bytes are staged in the blob store.
uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("created_at", sa.Float, nullable=False),
)
