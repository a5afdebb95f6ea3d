"""The master-key records: which master keys this database holds secrets for.

Each record is a master key's id and check value (:meth:`MasterKeys.check_value`), never
the key. At start every replica compares the keys it was given with the records, under
one lock, so replicas started at once on an empty database agree on one master key and a
replica given the wrong ``REGD_MASTER_KEY`` stops with one line before it seals anything.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.db import Database
from regd.db.schema import master_key_records, secrets, signing_keys
from regd.db.sql import exclusive
from regd.strongbox.crypto import MasterKeyError, MasterKeys

#: The lock held while replicas agree on keys ("regk" in ASCII): master key, then signing keys.
KEYS_LOCK: Final = 0x7265676B

_HINT = "every replica needs the same REGD_MASTER_KEY (docs/operations.md)"


async def agree(db: Database, keys: MasterKeys) -> None:
    """Load ``keys`` and check them against the records; the first start creates the key
    file (when REGD_MASTER_KEY is not set) and the record. Raises :class:`MasterKeyError`
    (one line, for the operator) when the keys do not open this database's secrets."""
    async with db.write() as conn:
        await exclusive(conn, KEYS_LOCK)
        records = {
            row.id: row.check_value
            for row in await conn.execute(
                sa.select(master_key_records.c.id, master_key_records.c.check_value)
            )
        }
        # Under the lock: a replica starting beside this one on a shared data directory
        # has created its key file (or not) by now.
        await asyncio.to_thread(keys.load)
        if not keys.current_id:
            if records:
                raise MasterKeyError(
                    f"this database's secrets are sealed with master key {min(records)}, "
                    f"and no master key is given here: {_HINT}"
                )
            await asyncio.to_thread(keys.create)
        if records:
            _check(records, keys)
        else:
            await _check_sealed(conn, keys)
        if keys.current_id not in records:
            await conn.execute(
                sa.insert(master_key_records).values(
                    id=keys.current_id,
                    check_value=keys.check_value(keys.current_id),
                    created_at=time.time(),
                )
            )


def _check(records: dict[str, str], keys: MasterKeys) -> None:
    known = sorted(keys.ids & records.keys())
    if not known:
        raise MasterKeyError(
            f"master key {keys.current_id} does not open this database's secrets "
            f"(sealed with master key {min(records)}): {_HINT}"
        )
    for found in known:
        if keys.check_value(found) != records[found]:
            raise MasterKeyError(f"master key {found} fails its check value: {_HINT}")


async def _check_sealed(conn: AsyncConnection, keys: MasterKeys) -> None:
    """No records yet (a database from before they existed): the keys must open what is
    sealed already."""
    sealed_with: set[str] = set()
    for table in (secrets, signing_keys):
        sealed_with.update((await conn.scalars(sa.select(table.c.master_key_id).distinct())).all())
    missing = sorted(sealed_with - keys.ids)
    if missing:
        raise MasterKeyError(
            f"master key {keys.current_id} does not open this database's secrets "
            f"(sealed with master key {missing[0]}): {_HINT}"
        )


async def retire_all_but_current(db: Database, keys: MasterKeys) -> None:
    """After a rotation re-wrapped everything: only the current key is recorded."""
    async with db.write() as conn:
        await conn.execute(
            sa.delete(master_key_records).where(master_key_records.c.id != keys.current_id)
        )
