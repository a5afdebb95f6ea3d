"""Repositories: name -> id, created on first write, and the catalog."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.db import Database
from regd.db.schema import repositories
from regd.registry.clock import now
from regd.registry.errors import ErrorCode, RegistryError


class Repositories:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._ids: dict[str, int] = {}

    async def id_of(self, name: str) -> int | None:
        """The repository's id, or None when nothing was ever pushed to it."""
        cached = self._ids.get(name)
        if cached is not None:
            return cached
        async with self._db.read() as conn:
            found = await conn.scalar(
                sa.select(repositories.c.id).where(repositories.c.name == name)
            )
        if found is not None:
            self._ids[name] = found
        return found

    async def require(self, name: str) -> int:
        """The repository's id; NAME_UNKNOWN when it does not exist."""
        found = await self.id_of(name)
        if found is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": name})
        return found

    async def ensure(self, conn: AsyncConnection, name: str) -> int:
        """The repository's id, creating it inside the caller's write transaction."""
        cached = self._ids.get(name)
        if cached is not None:
            return cached
        found = await conn.scalar(sa.select(repositories.c.id).where(repositories.c.name == name))
        if found is None:
            found = await conn.scalar(
                sa.insert(repositories)
                .values(name=name, created_at=now())
                .returning(repositories.c.id)
            )
        assert found is not None
        return int(found)

    def remember(self, name: str, repository_id: int) -> None:
        """Cache an id once the transaction that created it has committed."""
        self._ids[name] = repository_id

    def forget(self, name: str) -> None:
        self._ids.pop(name, None)

    async def catalog(self, limit: int | None, last: str | None) -> list[str]:
        query = sa.select(repositories.c.name).order_by(repositories.c.name)
        if last:
            query = query.where(repositories.c.name > last)
        if limit is not None:
            query = query.limit(limit)
        async with self._db.read() as conn:
            return list((await conn.scalars(query)).all())
