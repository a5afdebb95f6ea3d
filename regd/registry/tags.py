"""Listing a repository's tags, in lexical order, page by page."""

from __future__ import annotations

import sqlalchemy as sa

from regd.db import Database
from regd.db.schema import tags
from regd.registry.repositories import Repositories


class Tags:
    def __init__(self, db: Database, repositories: Repositories) -> None:
        self._db = db
        self._repositories = repositories

    async def list(self, name: str, limit: int | None, last: str | None) -> list[str]:
        """Up to ``limit`` tags after ``last``; NAME_UNKNOWN for an unknown repository."""
        repository_id = await self._repositories.require(name)
        query = (
            sa.select(tags.c.name)
            .where(tags.c.repository_id == repository_id)
            .order_by(tags.c.name)
        )
        if last:
            query = query.where(tags.c.name > last)
        if limit is not None:
            query = query.limit(limit)
        async with self._db.read() as conn:
            return list((await conn.scalars(query)).all())
