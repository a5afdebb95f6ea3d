"""Management views of repositories: summaries, tag and manifest details, deletion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from regd.db import Database
from regd.db.schema import manifests, repositories, repository_blobs, tags, uploads
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
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(repositories.c.name.like(escaped + "%", escape="\\"))
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

    async def create_repository(self, name: str) -> bool:
        """Create an empty repository; False when it exists."""
        if await self._repositories.id_of(name) is not None:
            return False
        async with self._db.write() as conn:
            repository_id = await self._repositories.ensure(conn, name)
        self._repositories.remember(name, repository_id)
        return True

    async def delete_repository(self, name: str) -> None:
        """Delete a repository with its tags, manifests and blob links (GC frees bytes)."""
        repository_id = await self._repositories.require(name)
        async with self._db.write() as conn:
            for table in (tags, manifests, repository_blobs):
                await conn.execute(sa.delete(table).where(table.c.repository_id == repository_id))
            # Its upload sessions end with it (their staged files go with the upload sweep).
            await conn.execute(sa.delete(uploads).where(uploads.c.repository == name))
            await conn.execute(sa.delete(repositories).where(repositories.c.id == repository_id))
        self._repositories.forget(name)
        self._manifests.forget_repository(repository_id)
        self._blobs.forget_repository(repository_id)
        self._uploads.forget_repository(name)


def _summary(row: Any) -> RepositorySummary:
    return RepositorySummary(row.name, row.created_at, row.tag_count, row.manifest_count)
