"""Blobs as a repository sees them: linked content, mounts and unlinks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.db import Database
from regd.db.schema import blobs, repository_blobs
from regd.db.sql import insert_ignore
from regd.registry.clock import now
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.names import Digest
from regd.registry.repositories import Repositories
from regd.storage import BlobStore


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: Digest
    size: int
    path: Path | None


class Blobs:
    def __init__(self, db: Database, store: BlobStore, repositories: Repositories) -> None:
        self._db = db
        self._store = store
        self._repositories = repositories
        # Positive cache of (repository id, digest) links; dropped on unlink.
        self._links: dict[tuple[int, str], int] = {}
        self._links_epoch = 0

    @property
    def store(self) -> BlobStore:
        return self._store

    async def linked_size(self, repository_id: int, digest: str) -> int | None:
        """The blob's size when it is visible in the repository."""
        key = (repository_id, digest)
        size = self._links.get(key)
        if size is not None:
            return size
        query = (
            sa.select(blobs.c.size)
            .select_from(repository_blobs.join(blobs, blobs.c.digest == repository_blobs.c.digest))
            .where(repository_blobs.c.repository_id == repository_id)
            .where(repository_blobs.c.digest == digest)
        )
        epoch = self._links_epoch
        async with self._db.read() as conn:
            size = await conn.scalar(query)
        if size is not None and epoch == self._links_epoch:  # no unlink raced this read
            if len(self._links) > 200_000:
                self._links.clear()
            self._links[key] = size
        return size

    async def stat(self, name: str, digest: Digest) -> BlobInfo:
        """The blob as visible in ``name``; BLOB_UNKNOWN otherwise."""
        repository_id = await self._repositories.id_of(name)
        size = None if repository_id is None else await self.linked_size(repository_id, str(digest))
        if size is None:
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})
        return BlobInfo(digest, size, self._store.local_path(digest.algorithm, digest.hex))

    async def link(self, conn: AsyncConnection, repository_id: int, digest: str, size: int) -> None:
        """Record a committed blob and make it visible in a repository (caller's transaction)."""
        await insert_ignore(conn, blobs, {"digest": digest, "size": size, "created_at": now()})
        await insert_ignore(
            conn,
            repository_blobs,
            {"repository_id": repository_id, "digest": digest, "created_at": now()},
        )

    async def mount(self, name: str, digest: Digest, source: str) -> int | None:
        """Link a blob of ``source`` into ``name``; its size, or None when not mountable."""
        source_id = await self._repositories.id_of(source)
        if source_id is None:
            return None
        size = await self.linked_size(source_id, str(digest))
        if size is None or await self._store.stat(digest.algorithm, digest.hex) is None:
            return None
        async with self._db.write() as conn:
            repository_id = await self._repositories.ensure(conn, name)
            await self.link(conn, repository_id, str(digest), size)
        self._repositories.remember(name, repository_id)
        return size

    async def adopt(self, name: str, digest: Digest, size: int) -> None:
        """Link a blob just committed to the store (fetched from an upstream) into ``name``."""
        async with self._db.write() as conn:
            repository_id = await self._repositories.ensure(conn, name)
            await self.link(conn, repository_id, str(digest), size)
        self._repositories.remember(name, repository_id)

    def forget_repository(self, repository_id: int) -> None:
        self._links_epoch += 1
        for key in [key for key in self._links if key[0] == repository_id]:
            del self._links[key]

    async def unlink(self, name: str, digest: Digest) -> None:
        """Make a blob invisible in ``name`` (garbage collection frees the bytes)."""
        repository_id = await self._repositories.require(name)
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.delete(repository_blobs)
                .where(repository_blobs.c.repository_id == repository_id)
                .where(repository_blobs.c.digest == str(digest))
            )
        self._links_epoch += 1
        self._links.pop((repository_id, str(digest)), None)
        if result.rowcount == 0:
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})
