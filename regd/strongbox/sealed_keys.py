"""The token-signing keys at rest: rows of ``signing_keys``, each PEM sealed with the master key.

The store :class:`regd.auth.signing.SigningKeys` reads and writes (it knows no database
and no master key). Every change bumps the ``signing-keys`` generation in its own
transaction, so replicas on PostgreSQL pick up a rotation at their next token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.db import Database
from regd.db.generation import Generation
from regd.db.schema import signing_keys
from regd.db.sql import bump_generation, exclusive
from regd.strongbox.crypto import MasterKeys, Sealed
from regd.strongbox.records import KEYS_LOCK
from regd.strongbox.rewrap import rewrap_table

SIGNING_GENERATION: Final = "signing-keys"

#: A key as the signing side sees it: key id, PKCS#8 PEM, creation time (unix seconds).
KeyRow = tuple[str, bytes, float]


def _aad(kid: str) -> bytes:
    return f"regd-signing-key:{kid}".encode()


class SealedKeyStore:
    def __init__(self, db: Database, master: MasterKeys) -> None:
        self._db = db
        self._master = master
        self._generation = Generation(db, SIGNING_GENERATION)

    async def generation(self) -> int | None:
        """The ``signing-keys`` generation (PostgreSQL); None with SQLite."""
        return await self._generation.current()

    async def read(self) -> list[KeyRow]:
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(signing_keys))).all()
        return [
            (
                row.kid,
                self._master.open(
                    Sealed(row.ciphertext, row.wrapped_key, row.master_key_id), _aad(row.kid)
                ),
                row.created_at,
            )
            for row in rows
        ]

    async def create_first(self, make: Callable[[], Sequence[KeyRow]]) -> bool:
        """Store ``make()`` unless some key is stored already (one lock across replicas);
        whether it was stored."""
        async with self._db.write() as conn:
            await exclusive(conn, KEYS_LOCK)
            if await conn.scalar(sa.select(sa.func.count()).select_from(signing_keys)):
                return False
            for row in make():
                await self._insert(conn, row)
            await bump_generation(conn, SIGNING_GENERATION)
        return True

    async def add(self, row: KeyRow) -> None:
        async with self._db.write() as conn:
            await self._insert(conn, row)
            await bump_generation(conn, SIGNING_GENERATION)

    async def remove(self, kids: Sequence[str]) -> None:
        if not kids:
            return
        async with self._db.write() as conn:
            await conn.execute(sa.delete(signing_keys).where(signing_keys.c.kid.in_(kids)))
            await bump_generation(conn, SIGNING_GENERATION)

    async def rewrap_all(self) -> int:
        """Re-wrap every key's data key under the current master key; how many."""
        return await rewrap_table(self._db, signing_keys, self._master, ("kid",))

    async def _insert(self, conn: AsyncConnection, row: KeyRow) -> None:
        kid, pem, created = row
        sealed = self._master.seal(pem, _aad(kid))
        await conn.execute(
            sa.insert(signing_keys).values(
                kid=kid,
                ciphertext=sealed.ciphertext,
                wrapped_key=sealed.wrapped_key,
                master_key_id=sealed.master_key_id,
                created_at=created,
            )
        )
