"""Replicas on PostgreSQL: the ``auth`` generation, bumped by every change to credentials,
tokens and grants, in the transaction that makes it.

Each regd caches verified Basic credentials and folded grants in memory. Within one
process, a change drops them at once (``AccessController.forget_credentials``,
``Grants.invalidate``). Another replica learns of it from the ``auth`` generation: on
PostgreSQL a cached verdict is used only after reading the generation (one primary-key
lookup) and finding it unchanged since the cache was last validated, so a password
changed, a token revoked or a grant removed through one replica holds on every replica
from the moment that replica answered. With SQLite the generation is not touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from regd.db import Database
from regd.db.sql import AUTH_GENERATION, bump_generation, read_generation


@contextlib.asynccontextmanager
async def auth_write(db: Database) -> AsyncIterator[AsyncConnection]:
    """A write transaction that changes credentials, tokens or grants."""
    async with db.write() as conn:
        yield conn
        await bump_generation(conn, AUTH_GENERATION)


class AuthGeneration:
    """This process's view of the ``auth`` generation, and an epoch of invalidations."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.shared = db.is_postgresql
        self._seen: int | None = None
        #: Bumped by every invalidation (local or seen): a verdict computed across one is
        #: not cached.
        self.epoch = 0
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (drop a cache) whenever another process's change is seen."""
        self._listeners.append(listener)

    def invalidated(self) -> None:
        self.epoch += 1

    async def check(self) -> None:
        """PostgreSQL: call the listeners when auth state changed since the last check
        (in any process), or this is the first check. Nothing with SQLite."""
        if not self.shared:
            return
        async with self._db.read() as conn:
            current = await read_generation(conn, AUTH_GENERATION)
        if current == self._seen:
            return
        self._seen = current
        self.epoch += 1
        for listener in self._listeners:
            listener()
