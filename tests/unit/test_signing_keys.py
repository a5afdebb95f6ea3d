"""Token-signing keys: sealed in the database, rotation, verification across rotation,
pruning, the import of the key files of a regd from before revision 0018.

Real SQLite databases and real master keys; no HTTP."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from regd.auth.signing import SigningKeys
from regd.db import Database, connect, upgrade
from regd.db.engine import sqlite_url
from regd.strongbox.crypto import MasterKeyError, MasterKeys
from regd.strongbox.records import agree
from regd.strongbox.sealed_keys import SealedKeyStore

Scenario = Callable[[Database, MasterKeys], Awaitable[None]]


def _claims(lifetime: float = 300) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "user:alice", "aud": "regd", "iat": now, "exp": now + int(lifetime)}


def _run(tmp_path: Path, scenario: Scenario) -> None:
    async def main() -> None:
        database = connect(sqlite_url(tmp_path / "regd.db"))
        await upgrade(database)
        master = MasterKeys(tmp_path / "keys")
        await agree(database, master)
        try:
            await scenario(database, master)
        finally:
            await database.close()

    asyncio.run(main())


def _keys(database: Database, master: MasterKeys, tmp_path: Path) -> SigningKeys:
    return SigningKeys(SealedKeyStore(database, master), tmp_path / "keys")


def _rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "regd.db") as conn:
        return list(conn.execute(sql))


def test_first_load_stores_one_sealed_key_and_no_file(tmp_path: Path) -> None:
    async def scenario(database: Database, master: MasterKeys) -> None:
        keys = _keys(database, master, tmp_path)
        await keys.load()
        token = await keys.sign(_claims())
        assert keys.verify(token, "regd")["sub"] == "user:alice"
        assert jwt.get_unverified_header(token)["kid"] == keys.kids[0]

    _run(tmp_path, scenario)
    assert not list((tmp_path / "keys").glob("token-*.pem"))
    rows = _rows(tmp_path, "SELECT kid, ciphertext, master_key_id FROM signing_keys")
    assert len(rows) == 1
    _kid, ciphertext, master_key_id = rows[0]
    assert isinstance(ciphertext, bytes)
    assert b"PRIVATE KEY" not in ciphertext
    assert _rows(tmp_path, "SELECT id FROM master_key_records") == [(master_key_id,)]
    assert b"PRIVATE KEY" not in (tmp_path / "regd.db").read_bytes()


def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(tmp_path: Path) -> None:
    async def scenario(database: Database, master: MasterKeys) -> None:
        keys = _keys(database, master, tmp_path)
        await keys.load()
        old_token = await keys.sign(_claims())
        new_kid = await keys.rotate()
        new_token = await keys.sign(_claims())
        assert jwt.get_unverified_header(new_token)["kid"] == new_kid
        assert keys.verify(old_token, "regd")["sub"] == "user:alice"
        # Nothing is pruned while the old key's tokens may still be valid.
        assert await keys.prune(max_token_lifetime=300) == []
        assert keys.verify(old_token, "regd")

    _run(tmp_path, scenario)


def test_a_process_picks_up_a_key_rotated_by_another(tmp_path: Path) -> None:
    async def scenario(database: Database, master: MasterKeys) -> None:
        server_side = _keys(database, master, tmp_path)
        await server_side.load()
        other = _keys(database, master, tmp_path)
        await other.load()
        assert other.kids == server_side.kids  # one key set, not one each
        await other.rotate()
        token = await other.sign(_claims())
        with pytest.raises(jwt.InvalidTokenError):
            server_side.verify(token, "regd")
        assert server_side.needs_reload(token)
        await server_side.reload()
        assert server_side.verify(token, "regd")["sub"] == "user:alice"
        assert not server_side.needs_reload(token)

    _run(tmp_path, scenario)


def test_prune_removes_keys_replaced_longer_ago_than_a_token_lives(tmp_path: Path) -> None:
    async def scenario(database: Database, master: MasterKeys) -> None:
        keys = _keys(database, master, tmp_path)
        await keys.load()
        old_token = await keys.sign(_claims())
        await keys.rotate()
        removed = await keys.prune(max_token_lifetime=-1)
        assert len(removed) == 1
        with pytest.raises(jwt.InvalidTokenError):
            keys.verify(old_token, "regd")
        assert len(keys.kids) == 1

    _run(tmp_path, scenario)
    assert len(_rows(tmp_path, "SELECT kid FROM signing_keys")) == 1


def test_wrong_audience_and_tampering_are_refused(tmp_path: Path) -> None:
    async def scenario(database: Database, master: MasterKeys) -> None:
        keys = _keys(database, master, tmp_path)
        await keys.load()
        token = await keys.sign(_claims())
        with pytest.raises(jwt.InvalidTokenError):
            keys.verify(token, "another-service")
        head, body, signature = token.split(".")
        with pytest.raises(jwt.InvalidTokenError):
            keys.verify(f"{head}.{body}x.{signature}", "regd")

    _run(tmp_path, scenario)


def test_key_files_of_an_older_regd_are_imported_once_and_deleted(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "keys").mkdir(mode=0o700)
    (tmp_path / "keys" / "token-old.pem").write_bytes(pem)

    async def scenario(database: Database, master: MasterKeys) -> None:
        keys = _keys(database, master, tmp_path)
        await keys.load()
        assert len(keys.kids) == 1
        # A token the old regd signed with that file (same key, same kid) still verifies.
        signed = jwt.encode(_claims(), private, algorithm="ES256", headers={"kid": keys.kids[0]})
        assert keys.verify(signed, "regd")["sub"] == "user:alice"
        again = _keys(database, master, tmp_path)
        await again.load()
        assert again.kids == keys.kids

    _run(tmp_path, scenario)
    assert not (tmp_path / "keys" / "token-old.pem").exists()
    assert len(_rows(tmp_path, "SELECT kid FROM signing_keys")) == 1


def test_a_wrong_master_key_is_refused_before_anything_is_sealed(tmp_path: Path) -> None:
    async def scenario(database: Database, master: MasterKeys) -> None:
        await _keys(database, master, tmp_path).load()
        wrong = MasterKeys(tmp_path / "elsewhere", "A" * 43 + "=")
        with pytest.raises(MasterKeyError, match="does not open this database's secrets"):
            await agree(database, wrong)
        missing = MasterKeys(tmp_path / "empty")
        with pytest.raises(MasterKeyError, match="no master key is given here"):
            await agree(database, missing)
        assert not (tmp_path / "empty").exists()

    _run(tmp_path, scenario)
    assert len(_rows(tmp_path, "SELECT id FROM master_key_records")) == 1


def test_regd_rotate_keys_and_rotate_master_key_commands(tmp_path: Path) -> None:
    env = {**os.environ, "REGD_DATA_DIR": str(tmp_path)}
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "regd", "rotate-keys"], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert "new signing key" in result.stderr
    assert len(_rows(tmp_path, "SELECT kid FROM signing_keys")) == 3
    (old_master,) = _rows(tmp_path, "SELECT id FROM master_key_records")
    result = subprocess.run(
        [sys.executable, "-m", "regd", "rotate-master-key"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "re-wrapped 0 secret(s) and 3 signing key(s)" in result.stderr
    (new_master,) = _rows(tmp_path, "SELECT id FROM master_key_records")
    assert new_master != old_master
    assert _rows(tmp_path, "SELECT DISTINCT master_key_id FROM signing_keys") == [new_master]

    async def scenario(database: Database, master: MasterKeys) -> None:
        keys = _keys(database, master, tmp_path)
        await keys.load()  # the keys open under the new master key
        assert keys.verify(await keys.sign(_claims()), "regd")

    _run(tmp_path, scenario)
