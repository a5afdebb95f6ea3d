"""Token-signing keys: files, rotation, verification across rotation, pruning."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from regd.auth.signing import SigningKeys


def _claims(lifetime: float = 300) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "user:alice", "aud": "regd", "iat": now, "exp": now + int(lifetime)}


def test_first_load_creates_a_private_key_file(tmp_path: Path) -> None:
    keys = SigningKeys(tmp_path / "keys")
    keys.load()
    files = list((tmp_path / "keys").glob("token-*.pem"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    token = keys.sign(_claims())
    assert keys.verify(token, "regd")["sub"] == "user:alice"
    assert jwt.get_unverified_header(token)["kid"] in files[0].name


def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(tmp_path: Path) -> None:
    keys = SigningKeys(tmp_path / "keys")
    keys.load()
    old_token = keys.sign(_claims())
    new_key = keys.rotate()
    new_token = keys.sign(_claims())
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid
    assert keys.verify(old_token, "regd")["sub"] == "user:alice"
    # Nothing is pruned while the old key's tokens may still be valid.
    assert keys.prune(max_token_lifetime=300) == []
    assert keys.verify(old_token, "regd")


def test_a_process_picks_up_a_key_rotated_by_another(tmp_path: Path) -> None:
    server_side = SigningKeys(tmp_path / "keys")
    server_side.load()
    other = SigningKeys(tmp_path / "keys")
    other.load()
    other.rotate()
    token = other.sign(_claims())
    assert server_side.verify(token, "regd")["sub"] == "user:alice"


def test_prune_removes_keys_replaced_longer_ago_than_a_token_lives(tmp_path: Path) -> None:
    keys = SigningKeys(tmp_path / "keys")
    keys.load()
    old_token = keys.sign(_claims())
    keys.rotate()
    removed = keys.prune(max_token_lifetime=-1)
    assert len(removed) == 1
    with pytest.raises(jwt.InvalidTokenError):
        keys.verify(old_token, "regd")


def test_wrong_audience_and_tampering_are_refused(tmp_path: Path) -> None:
    keys = SigningKeys(tmp_path / "keys")
    keys.load()
    token = keys.sign(_claims())
    with pytest.raises(jwt.InvalidTokenError):
        keys.verify(token, "another-service")
    head, body, signature = token.split(".")
    with pytest.raises(jwt.InvalidTokenError):
        keys.verify(f"{head}.{body}x.{signature}", "regd")


def test_regd_rotate_keys_command(tmp_path: Path) -> None:
    env = {**os.environ, "REGD_DATA_DIR": str(tmp_path)}
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "regd", "rotate-keys"], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert "new signing key" in result.stderr
    assert len(list((tmp_path / "keys").glob("token-*.pem"))) == 3
