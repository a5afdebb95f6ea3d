"""Blobs as a repository sees them: linked content, mounts and unlinks.

Every link is made by :meth:`Blobs.link`, inside the writer's transaction, which takes the
digest's lock (:func:`lock_digest`) and checks that the bytes are still stored before the
link can commit: garbage collection deletes bytes only under the same lock, after checking
that nothing links them (see :mod:`regd.registry.gc`). So a link never points at nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.caching import Cache
from regd.db import Database
from regd.db.schema import blobs, repositories, repository_blobs
from regd.db.sql import insert_ignore, upsert
from regd.registry.clock import now
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.names import Digest
from regd.registry.repositories import Repositories, RepositoryRef
from regd.storage import BlobStore, DigestLock

#: Seconds a cached link is trusted: how long a ``regd gc`` run by another process may take
#: to be seen here with SQLite (this process's own unlinks and collections drop entries at
#: once). With PostgreSQL an entry is also trusted only while its repository's generation
#: is unchanged, and every unlink (``DELETE``, garbage collection, cache eviction) bumps
#: it: other replicas and ``regd gc`` are seen at once.
LINK_CACHE_TTL: Final = 5.0
#: Links cached at most (least recently used first out).
LINK_CACHE_ENTRIES: Final = 200_000


async def lock_digest(conn: AsyncConnection, digest: str) -> None:
    """Serialise the transactions that link or delete ``digest``, until ``conn`` commits.

    PostgreSQL: a transaction-scoped advisory lock. SQLite has one writer at a time; the
    callers' first statement is a write, so they hold it from there on.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(digest, 0)))
        )


def digest_lock(db: Database) -> DigestLock:
    """The digest lock as a context manager, for object-store drivers (no rename there):
    their commit and pin hold it while they mark a blob fresh and look at it, as
    :func:`free_blob` holds it around removal. With SQLite a no-op UPDATE of the blob's row
    takes the writer lock (across processes too)."""

    @contextlib.asynccontextmanager
    async def hold(digest: str) -> AsyncIterator[None]:
        async with db.write() as conn:
            await lock_digest(conn, digest)
            await conn.execute(
                sa.update(blobs).where(blobs.c.digest == digest).values(size=blobs.c.size)
            )
            yield

    return hold


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
        # Positive cache of (repository id, digest) -> size, with the repository's
        # generation (None with SQLite); dropped on unlink.
        self._links: Cache[tuple[int, str], int] = Cache(LINK_CACHE_ENTRIES, ttl=LINK_CACHE_TTL)

    @property
    def store(self) -> BlobStore:
        return self._store

    async def linked_size(self, ref: RepositoryRef, digest: str) -> int | None:
        """The blob's size when it is visible in the repository."""
        query = (
            sa.select(blobs.c.size)
            .select_from(repository_blobs.join(blobs, blobs.c.digest == repository_blobs.c.digest))
            .where(repository_blobs.c.repository_id == ref.id)
            .where(repository_blobs.c.digest == digest)
        )

        async def read() -> int | None:
            async with self._db.read() as conn:
                size: int | None = await conn.scalar(query)
            return size

        return await self._links.get_or_read((ref.id, digest), ref.generation, read)

    async def stat(self, name: str, digest: Digest) -> BlobInfo:
        """The blob as visible in ``name``; BLOB_UNKNOWN otherwise."""
        ref = await self._repositories.ref(name)
        size = None if ref is None else await self.linked_size(ref, str(digest))
        if size is None:
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})
        return BlobInfo(digest, size, self._store.local_path(digest.algorithm, digest.hex))

    async def link(self, conn: AsyncConnection, repository_id: int, digest: str, size: int) -> None:
        """Record a committed blob and make it visible in a repository (caller's transaction).

        The link's time is refreshed when it exists (a push again restarts the grace period).
        Releases the pin of the commit or mount before; BLOB_UNKNOWN when the bytes are no
        longer stored (a garbage collection took them before this transaction).
        """
        parsed = Digest.parse(digest)
        try:
            await lock_digest(conn, digest)
            stamp = now()
            await insert_ignore(conn, blobs, {"digest": digest, "size": size, "created_at": stamp})
            await upsert(
                conn,
                repository_blobs,
                {"repository_id": repository_id, "digest": digest, "created_at": stamp},
                keys=("repository_id", "digest"),
            )
            if await self._store.stat(parsed.algorithm, parsed.hex) is None:
                raise RegistryError(
                    ErrorCode.BLOB_UNKNOWN,
                    "the blob was garbage-collected meanwhile: push it again",
                    {"digest": digest},
                )
        finally:
            self._store.unpin(parsed.algorithm, parsed.hex)

    async def mount(self, name: str, digest: Digest, source: str) -> int | None:
        """Link a blob of ``source`` into ``name``; its size, or None when not mountable."""
        source_ref = await self._repositories.ref(source)
        if source_ref is None:
            return None
        size = await self.linked_size(source_ref, str(digest))
        if size is None or not await self._store.pin(digest.algorithm, digest.hex):
            return None
        try:
            async with self._db.write() as conn:
                repository_id = await self._repositories.ensure(conn, name)
                await self.link(conn, repository_id, str(digest), size)
        except RegistryError:
            return None  # collected meanwhile: the client uploads it instead
        self._repositories.remember(name, repository_id)
        return size

    async def holders(self, digest: Digest, limit: int = 32) -> list[str]:
        """Names of (at most ``limit``) repositories the blob is linked in: candidates for
        an automatic cross-mount (``POST ?mount=`` without ``from``)."""
        query = (
            sa.select(repositories.c.name)
            .select_from(
                repository_blobs.join(
                    repositories, repositories.c.id == repository_blobs.c.repository_id
                )
            )
            .where(repository_blobs.c.digest == str(digest))
            .order_by(repositories.c.name)
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [str(name) for name in (await conn.scalars(query)).all()]

    async def adopt(self, name: str, digest: Digest, size: int) -> None:
        """Link a blob just committed to the store (fetched from an upstream) into ``name``."""
        async with self._db.write() as conn:
            repository_id = await self._repositories.ensure(conn, name)
            await self.link(conn, repository_id, str(digest), size)
        self._repositories.remember(name, repository_id)

    async def drop_links(self, where: sa.ColumnElement[bool]) -> list[tuple[int, str]]:
        """Delete the links matching ``where`` (over ``repository_blobs``), as garbage
        collection and cache eviction do; the ``(repository id, digest)`` pairs removed."""
        async with self._db.write() as conn:
            rows = (
                await conn.execute(
                    sa.delete(repository_blobs)
                    .where(where)
                    .returning(repository_blobs.c.repository_id, repository_blobs.c.digest)
                )
            ).all()
            await self._repositories.bump(conn, [row.repository_id for row in rows])
        self.forget_links([(row.repository_id, row.digest) for row in rows])
        return [(row.repository_id, row.digest) for row in rows]

    def forget_links(self, keys: Sequence[tuple[int, str]]) -> None:
        """Drop cached links after their rows were deleted (and committed)."""
        for key in keys:
            self._links.discard(key)

    def forget_repository(self, repository_id: int) -> None:
        self._links.discard_where(lambda key: key[0] == repository_id)

    async def unlink(self, name: str, digest: Digest) -> None:
        """Make a blob invisible in ``name`` (garbage collection frees the bytes)."""
        repository_id = await self._repositories.require(name)
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.delete(repository_blobs)
                .where(repository_blobs.c.repository_id == repository_id)
                .where(repository_blobs.c.digest == str(digest))
            )
            if result.rowcount:
                await self._repositories.bump(conn, [repository_id])
        self._links.discard((repository_id, str(digest)))
        if result.rowcount == 0:
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})
