"""The catalog: every repository name in code-point order, served from memory.

Reading 1,000 names from the database costs a round trip and ~1 ms of row handling per
request (on PostgreSQL, the server's CPU too); the names change only when a repository is
created or deleted. So the sorted names are kept (one entry, as tag listings are kept in
:mod:`regd.registry.tags`) and a page is a bisect and a slice:

- With SQLite this process is the only writer: :meth:`Catalog.changed` drops the entry
  after a creation or a deletion has committed (and its epoch makes a load that raced the
  change answer without being kept).
- With PostgreSQL the entry is kept with the ``catalog`` generation, which every creation
  and deletion bumps in its own transaction (:data:`regd.db.sql.CATALOG_GENERATION`): a
  repository created or deleted through another replica is seen by the next request here.
  The generation costs no round trip of its own: it comes with the request's batched fresh
  read (:mod:`regd.db.fresh`).

A registry with more than ``MAX_CACHED_NAMES`` repositories is listed from the database,
page by page, as before.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa

from regd.caching import Cache, InFlight
from regd.db import Database
from regd.db.generation import Generation
from regd.db.schema import repositories
from regd.db.sql import CATALOG_GENERATION

#: Repository names held at most; a larger catalog is read from the database page by page.
MAX_CACHED_NAMES: Final = 100_000


@dataclass(frozen=True, slots=True)
class _Names:
    #: Every name, sorted; None when there are too many to hold (read page by page).
    names: tuple[str, ...] | None


class Catalog:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._generation = Generation(db, CATALOG_GENERATION)
        # One entry (key None): every name, sorted, with the generation it was read at.
        self._cache: Cache[None, _Names] = Cache(1)
        self._loading: InFlight[tuple[int, int | None], tuple[str, ...] | None] = InFlight()

    async def page(self, limit: int | None, last: str | None) -> list[str]:
        """Up to ``limit`` names after ``last``, in code-point order."""
        names = await self._names()
        if names is None:
            return await _select_names(self._db, limit, last)
        start = bisect_right(names, last) if last else 0
        return list(names[start : None if limit is None else start + limit])

    def changed(self) -> None:
        """A repository was created or deleted (committed): drop the names held."""
        self._cache.discard(None)

    async def _names(self) -> tuple[str, ...] | None:
        generation = await self._generation.current()
        cached = self._cache.get(None, generation)
        if cached is not None:
            return cached.names
        epoch = self._cache.epoch
        # Not a load started before a change this request must see (another epoch or
        # generation); a cancelled request does not cancel the load others wait on.
        return await self._loading.run((epoch, generation), lambda: self._load(epoch, generation))

    async def _load(self, epoch: int, generation: int | None) -> tuple[str, ...] | None:
        """Read every name (read after ``generation`` was: at least that recent); keep them
        unless a change came after ``epoch``."""
        found = await _select_names(self._db, MAX_CACHED_NAMES + 1, None)
        found.sort()  # the bisect in page() relies on code-point order
        names = None if len(found) > MAX_CACHED_NAMES else tuple(found)
        self._cache.put(None, _Names(names), generation, epoch=epoch)
        return names


async def _select_names(db: Database, limit: int | None, last: str | None) -> list[str]:
    # Code-point order: SQLite compares bytes; PostgreSQL's column collates "C".
    query = sa.select(repositories.c.name).order_by(repositories.c.name)
    if last:
        query = query.where(repositories.c.name > last)
    if limit is not None:
        query = query.limit(limit)
    async with db.read() as conn:
        # Plain rows, not a ScalarResult: less CPU per name.
        return [row[0] for row in (await conn.execute(query)).fetchall()]
