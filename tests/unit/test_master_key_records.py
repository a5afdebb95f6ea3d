"""The master-key records against a real SQLite database: a database from before the records
existed (secrets sealed, no record) accepts only the key that opens its secrets, and records
it; a rotation leaves one record, of the new key."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest

from regd.db import connect, upgrade
from regd.db.engine import sqlite_url
from regd.strongbox.crypto import MasterKeyError, MasterKeys, key_id
from regd.strongbox.records import agree, retire_all_but_current
from regd.strongbox.vaults import Vaults


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_secrets_sealed_before_the_records_accept_only_their_key(tmp_path: Path) -> None:
    right, wrong = _key(), _key()

    async def main() -> None:
        database = connect(sqlite_url(tmp_path / "regd.db"))
        await upgrade(database)
        try:
            keys = MasterKeys(tmp_path / "keys", right)
            keys.load()
            vaults = Vaults(database, keys)
            await vaults.create("old")
            body = {"name": "hub", "data": {"password": "sealed-before-0018"}}
            await vaults.put_secret("old", body, create_only=True)
            # As a database migrated to 0018 and not started since: no record yet.
            async with database.write() as conn:
                await conn.exec_driver_sql("DELETE FROM master_key_records")
            with pytest.raises(MasterKeyError, match="does not open this database's secrets"):
                await agree(database, MasterKeys(tmp_path / "keys", wrong))
            accepted = MasterKeys(tmp_path / "keys", right)
            await agree(database, accepted)
            async with database.read() as conn:
                ids = (await conn.exec_driver_sql("SELECT id FROM master_key_records")).all()
            assert [row[0] for row in ids] == [accepted.current_id]
            values = await Vaults(database, accepted).values("old", "hub")
            assert values == {"password": "sealed-before-0018"}
        finally:
            await database.close()

    asyncio.run(main())


def test_a_rotation_through_the_environment_leaves_the_new_record(tmp_path: Path) -> None:
    old, new = _key(), _key()

    async def main() -> None:
        database = connect(sqlite_url(tmp_path / "regd.db"))
        await upgrade(database)
        try:
            await agree(database, MasterKeys(tmp_path / "keys", old))
            rotating = MasterKeys(tmp_path / "keys", f"{new},{old}")
            await agree(database, rotating)  # a replica given NEW,OLD: both recorded
            await retire_all_but_current(database, rotating)
            async with database.read() as conn:
                ids = (await conn.exec_driver_sql("SELECT id FROM master_key_records")).all()
            assert [row[0] for row in ids] == [key_id(base64.b64decode(new))]
            with pytest.raises(MasterKeyError):
                await agree(database, MasterKeys(tmp_path / "keys", old))
        finally:
            await database.close()

    asyncio.run(main())
