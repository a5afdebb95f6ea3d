"""A named generation: the counter replicas on PostgreSQL check their caches against.

Writers bump it in the transaction that changes the state it stands for
(:func:`regd.db.sql.bump_generation`); readers pass :meth:`Generation.current` to
:class:`regd.caching.Cache` with every lookup and fill, so an entry read before another
replica's change is never returned after it. With SQLite one process owns the database:
``current()`` is None (no read at all) and the process drops its own entries.
"""

from __future__ import annotations

from regd.db.engine import Database


class Generation:
    def __init__(self, db: Database, name: str) -> None:
        self._db = db
        self.name = name

    async def current(self) -> int | None:
        """The counter as committed when the current request arrived, or later (PostgreSQL:
        a batched read, see :mod:`regd.db.fresh`); None with SQLite."""
        if self._db.fresh is None:
            return None
        return await self._db.fresh.generation(self.name)
