"""Replicas on PostgreSQL: the ``auth`` generation, bumped by every change to credentials,
tokens and grants, in the transaction that makes it.

Each regd caches verified Basic credentials and folded grants in memory
(:class:`regd.caching.Cache`, each entry with the ``auth`` generation it was read at).
Within one process, a change drops them at once (``AccessController.forget_credentials``,
``Grants.invalidate``: :meth:`AuthGeneration.invalidated` calls every cache's ``clear``).
Another replica learns of it from the generation: on PostgreSQL a cached verdict is used
only when the generation read by this request (one primary-key lookup) is the one it was
cached at, so a password changed, a token revoked or a grant removed through one replica
holds on every replica from the moment that replica answered. With SQLite the generation
is not touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from regd.db import Database
from regd.db.generation import Generation
from regd.db.sql import AUTH_GENERATION, bump_generation


@contextlib.asynccontextmanager
async def auth_write(db: Database) -> AsyncIterator[AsyncConnection]:
    """A write transaction that changes credentials, tokens or grants."""
    async with db.write() as conn:
        yield conn
        await bump_generation(conn, AUTH_GENERATION)


class AuthGeneration(Generation):
    """The ``auth`` generation, and the caches this process drops on its own changes."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, AUTH_GENERATION)
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (drop a cache) whenever this process changes auth state."""
        self._listeners.append(listener)

    def invalidated(self) -> None:
        for listener in self._listeners:
            listener()
