"""Repositories: name -> id, created on first write, and the catalog.

With SQLite, one process owns the database and name -> id is cached in memory. With
PostgreSQL, replicas may delete and re-create a repository behind this process's back, so
every lookup reads the repository's row — one unique-index lookup, which also returns the
repository's ``generation``: per-repository caches (tags, manifests, tag listings, blob
links) trust an entry only while the generation it was filled at is still current, and
every change those caches could miss bumps it (:meth:`Repositories.bump`) in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.caching import Cache
from regd.db import Database
from regd.db.schema import repositories
from regd.db.sql import CATALOG_GENERATION, bump_generation, insert_ignore
from regd.registry.catalog import Catalog
from regd.registry.clock import now
from regd.registry.errors import ErrorCode, RegistryError

#: Names whose id is cached at most (SQLite; least recently used first out).
ID_CACHE_ENTRIES: Final = 65_536


@dataclass(frozen=True, slots=True)
class RepositoryRef:
    id: int
    #: The repository's generation as just read (PostgreSQL); None with SQLite, whose
    #: in-process caches are invalidated by this process, the only writer.
    generation: int | None


class Repositories:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._shared = db.is_postgresql
        self._ids: Cache[str, int] = Cache(ID_CACHE_ENTRIES)
        self._catalog = Catalog(db)

    async def ref(self, name: str) -> RepositoryRef | None:
        """The repository's id (and generation on PostgreSQL), or None when it does not exist."""
        if self._db.fresh is None:
            found = await self.id_of(name)
            return None if found is None else RepositoryRef(found, None)
        # As committed when the request arrived, or later: batched (regd.db.fresh).
        row = await self._db.fresh.ref(name)
        return None if row is None else RepositoryRef(*row)

    async def require_ref(self, name: str) -> RepositoryRef:
        """Like :meth:`ref`; NAME_UNKNOWN when the repository does not exist."""
        found = await self.ref(name)
        if found is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": name})
        return found

    async def id_of(self, name: str) -> int | None:
        """The repository's id, or None when nothing was ever pushed to it."""
        if self._shared:
            found_ref = await self.ref(name)
            return None if found_ref is None else found_ref.id

        async def read() -> int | None:
            async with self._db.read() as conn:
                found: int | None = await conn.scalar(
                    sa.select(repositories.c.id).where(repositories.c.name == name)
                )
            return found

        return await self._ids.get_or_read(name, None, read)

    async def require(self, name: str) -> int:
        """The repository's id; NAME_UNKNOWN when it does not exist."""
        found = await self.id_of(name)
        if found is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": name})
        return found

    async def ensure(self, conn: AsyncConnection, name: str) -> int:
        """The repository's id, creating it inside the caller's write transaction."""
        cached = None if self._shared else self._ids.get(name)
        if cached is not None:
            return cached
        select = sa.select(repositories.c.id).where(repositories.c.name == name)
        found = await conn.scalar(select)
        if found is None:
            # Another replica (PostgreSQL) may create it at the same time: whichever
            # commits second waits for the first here and then reads its row.
            if await insert_ignore(conn, repositories, {"name": name, "created_at": now()}):
                await bump_generation(conn, CATALOG_GENERATION)  # PostgreSQL: the catalog
            found = await conn.scalar(select)
        assert found is not None
        return int(found)

    async def bump(self, conn: AsyncConnection, repository_ids: Iterable[int]) -> None:
        """PostgreSQL: invalidate other replicas' cached entries of these repositories (in
        the caller's transaction, after its changes). A no-op with SQLite."""
        if not self._shared:
            return
        ids = sorted(set(repository_ids))  # one lock order: no deadlock between bumpers
        if ids:
            await conn.execute(
                sa.update(repositories)
                .where(repositories.c.id.in_(ids))
                .values(generation=repositories.c.generation + 1)
            )

    def remember(self, name: str, repository_id: int) -> None:
        """Cache an id once the transaction that created it has committed."""
        if not self._shared:
            if self._ids.get(name) is None:  # perhaps just created: the catalog changed
                self._catalog.changed()
            self._ids.put(name, repository_id)

    def forget(self, name: str) -> None:
        """The repository was deleted (committed)."""
        self._ids.discard(name)
        self._catalog.changed()

    async def catalog(self, limit: int | None, last: str | None) -> list[str]:
        """Up to ``limit`` names after ``last``, in code-point order (:mod:`.catalog`)."""
        return await self._catalog.page(limit, last)
