"""Management views of repositories: summaries, tag and manifest details, deletion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.db import Database
from regd.db.schema import manifests, repositories, repository_blobs, tags, uploads
from regd.db.sql import CATALOG_GENERATION, bump_generation
from regd.registry.blobs import Blobs
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.manifests import Manifests
from regd.registry.repositories import Repositories
from regd.registry.uploads import Uploads


@dataclass(frozen=True, slots=True)
class RepositorySummary:
    name: str
    created_at: float
    tag_count: int
    manifest_count: int


@dataclass(frozen=True, slots=True)
class TagInfo:
    name: str
    digest: str
    updated_at: float


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    digest: str
    media_type: str
    artifact_type: str | None
    size: int
    subject: str | None
    tags: list[str]
    created_at: float


class Inventory:
    def __init__(
        self,
        db: Database,
        repositories_: Repositories,
        blobs_: Blobs,
        manifests_: Manifests,
        uploads_: Uploads,
    ) -> None:
        self._db = db
        self._repositories = repositories_
        self._blobs = blobs_
        self._manifests = manifests_
        self._uploads = uploads_

    def _summaries(self) -> sa.Select[Any]:
        tag_count = (
            sa.select(sa.func.count())
            .where(tags.c.repository_id == repositories.c.id)
            .scalar_subquery()
        )
        manifest_count = (
            sa.select(sa.func.count())
            .where(manifests.c.repository_id == repositories.c.id)
            .scalar_subquery()
        )
        return sa.select(
            repositories.c.name,
            repositories.c.created_at,
            tag_count.label("tag_count"),
            manifest_count.label("manifest_count"),
        ).order_by(repositories.c.name)

    async def list_repositories(self, prefix: str | None = None) -> list[RepositorySummary]:
        query = self._summaries()
        if prefix:
            query = query.where(_starting_with(prefix))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_summary(row) for row in rows]

    async def repository(self, name: str) -> RepositorySummary:
        async with self._db.read() as conn:
            row = (await conn.execute(self._summaries().where(repositories.c.name == name))).first()
        if row is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": name})
        return _summary(row)

    async def tags(self, name: str) -> list[TagInfo]:
        repository_id = await self._repositories.require(name)
        query = (
            sa.select(tags.c.name, tags.c.digest, tags.c.updated_at)
            .where(tags.c.repository_id == repository_id)
            .order_by(tags.c.name)
        )
        async with self._db.read() as conn:
            return [TagInfo(*row) for row in (await conn.execute(query)).all()]

    async def tag(self, name: str, tag: str) -> TagInfo:
        for info in await self.tags(name):
            if info.name == tag:
                return info
        raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"tag": tag})

    async def manifests(self, name: str) -> list[ManifestInfo]:
        repository_id = await self._repositories.require(name)
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        manifests.c.digest,
                        manifests.c.media_type,
                        manifests.c.artifact_type,
                        manifests.c.size,
                        manifests.c.subject,
                        manifests.c.created_at,
                    )
                    .where(manifests.c.repository_id == repository_id)
                    .order_by(manifests.c.created_at, manifests.c.digest)
                )
            ).all()
            tag_rows = (
                await conn.execute(
                    sa.select(tags.c.digest, tags.c.name)
                    .where(tags.c.repository_id == repository_id)
                    .order_by(tags.c.name)
                )
            ).all()
        by_digest: dict[str, list[str]] = {}
        for digest, tag in tag_rows:
            by_digest.setdefault(digest, []).append(tag)
        return [
            ManifestInfo(
                row.digest,
                row.media_type,
                row.artifact_type,
                row.size,
                row.subject,
                by_digest.get(row.digest, []),
                row.created_at,
            )
            for row in rows
        ]

    async def add_repository(self, conn: AsyncConnection, name: str) -> int | None:
        """Create an empty repository in the caller's write transaction; its id, or None
        when it exists. Once committed: :meth:`added`."""
        if await conn.scalar(sa.select(repositories.c.id).where(repositories.c.name == name)):
            return None
        return await self._repositories.ensure(conn, name)

    def added(self, name: str, repository_id: int) -> None:
        self._repositories.remember(name, repository_id)

    async def has_below(self, conn: AsyncConnection, name: str) -> bool:
        """Whether repositories exist below ``name`` (``name/...``), as the caller's
        transaction sees them."""
        below = sa.select(repositories.c.id).where(_starting_with(name + "/")).limit(1)
        return bool(await conn.scalar(below))

    async def remove_repository(self, conn: AsyncConnection, name: str) -> int:
        """Delete a repository with its tags, manifests, blob links and upload sessions (GC
        frees bytes) in the caller's write transaction; its id. Once committed:
        :meth:`removed`."""
        repository_id = await conn.scalar(
            sa.select(repositories.c.id).where(repositories.c.name == name)
        )
        if repository_id is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": name})
        for table in (tags, manifests, repository_blobs):
            await conn.execute(sa.delete(table).where(table.c.repository_id == repository_id))
        # Its upload sessions end with it (their staged files go with the upload sweep).
        await conn.execute(sa.delete(uploads).where(uploads.c.repository == name))
        await conn.execute(sa.delete(repositories).where(repositories.c.id == repository_id))
        await bump_generation(conn, CATALOG_GENERATION)  # PostgreSQL: other replicas
        return int(repository_id)

    def removed(self, name: str, repository_id: int) -> None:
        self._repositories.forget(name)
        self._manifests.forget_repository(repository_id)
        self._blobs.forget_repository(repository_id)
        self._uploads.forget_repository(name)


def _starting_with(prefix: str) -> sa.ColumnElement[bool]:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return repositories.c.name.like(escaped + "%", escape="\\")


def _summary(row: Any) -> RepositorySummary:
    return RepositorySummary(row.name, row.created_at, row.tag_count, row.manifest_count)
