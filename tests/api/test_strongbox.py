"""Strongbox over real HTTP: vault and secret CRUD, value hiding, encryption at rest, rotation."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import RegdProcess, start_regd

PASSWORD_VALUE = "s3cr3t-upstream-password-7f1d"
TOKEN_VALUE = "upstream-token-value-2b9e44"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    server = start_regd(tmp_path_factory.mktemp("strongbox"))
    yield server
    server.stop()


def _user(admin: httpx.Client, name: str, policies: list[str]) -> tuple[str, str]:
    password = f"{name}-password-123"
    response = admin.post(
        "/api/v1/users", json={"name": name, "password": password, "policies": policies}
    )
    assert response.status_code == 201, response.text
    return name, password


def _seed(admin: httpx.Client, vault: str) -> None:
    assert (
        admin.post(
            "/api/v1/strongbox/vaults", json={"name": vault, "distribute": {"to": "all"}}
        ).status_code
        == 201
    )
    created = admin.post(
        f"/api/v1/strongbox/vaults/{vault}/secrets",
        json={
            "name": "hub",
            "allow-image-access": ["*"],
            "data": {"username": "robot", "password": PASSWORD_VALUE},
            "base64-data": {"token": base64.b64encode(TOKEN_VALUE.encode()).decode()},
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["keys"] == ["password", "token", "username"]


def test_vault_and_secret_crud(box: RegdProcess) -> None:
    with box.client() as admin:
        _seed(admin, "crud")
        assert admin.post("/api/v1/strongbox/vaults", json={"name": "crud"}).status_code == 409
        vaults = admin.get("/api/v1/strongbox/vaults").json()
        assert {"name": "crud", "secret-count": 1, "distribute": {"to": "all"}}.items() <= next(
            v for v in vaults if v["name"] == "crud"
        ).items()
        shown = admin.get("/api/v1/strongbox/vaults/crud/secrets/hub").json()
        assert shown["data"] == {"username": "robot", "password": PASSWORD_VALUE}
        assert base64.b64decode(shown["base64-data"]["token"]).decode() == TOKEN_VALUE
        # replace is an upsert (supctl replace) and drops keys not given
        replaced = admin.put(
            "/api/v1/strongbox/vaults/crud/secrets/hub", json={"data": {"token": "new-token-value"}}
        )
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["keys"] == ["token"]
        assert (
            admin.put(
                "/api/v1/strongbox/vaults/crud/secrets/other", json={"data": {"a": "b"}}
            ).status_code
            == 200
        )
        names = [s["name"] for s in admin.get("/api/v1/strongbox/vaults/crud/secrets").json()]
        assert names == ["hub", "other"]
        assert admin.delete("/api/v1/strongbox/vaults/crud/secrets/other").status_code == 204
        assert admin.get("/api/v1/strongbox/vaults/crud/secrets/other").status_code == 404
        assert admin.delete("/api/v1/strongbox/vaults/crud").status_code == 204
        assert admin.get("/api/v1/strongbox/vaults/crud/secrets/hub").status_code == 404
        assert admin.get("/api/v1/strongbox/vaults/crud").status_code == 404


def test_bad_input_is_a_clear_error(box: RegdProcess) -> None:
    with box.client() as admin:
        assert admin.post("/api/v1/strongbox/vaults", json={"name": "Bad Name"}).status_code == 400
        assert admin.post("/api/v1/strongbox/vaults", json={"name": "bad-input"}).status_code == 201
        for body in (
            {"name": "x", "data": {"a": 1}},
            {"name": "x", "base64-data": {"a": "not base64!"}},
            {"name": "x", "data": ["a"]},
            {"data": {"a": "b"}},
        ):
            response = admin.post("/api/v1/strongbox/vaults/bad-input/secrets", json=body)
            assert response.status_code == 400, body
            assert response.headers["Content-Type"].startswith("application/problem+json")
        missing = admin.post(
            "/api/v1/strongbox/vaults/nope/secrets", json={"name": "x", "data": {}}
        )
        assert missing.status_code in (403, 404)


def test_values_need_strongbox_read(box: RegdProcess) -> None:
    with box.client() as admin:
        _seed(admin, "hiding")
        reader = _user(admin, "vault-reader", ["strongbox-read"])
        plain = _user(admin, "vault-nobody", ["registry-pull"])
    with box.client(auth=plain) as nobody:
        # Deny by default: not even the names of secrets and keys, nor the vault itself.
        shown = nobody.get("/api/v1/strongbox/vaults/hiding/secrets/hub")
        assert shown.status_code == 403
        assert PASSWORD_VALUE not in shown.text
        assert "username" not in shown.text
        listing = nobody.get("/api/v1/strongbox/vaults/hiding/secrets")
        assert listing.status_code == 403
        assert "hub" not in listing.text
        assert nobody.get("/api/v1/strongbox/vaults/hiding").status_code == 403
        vaults = nobody.get("/api/v1/strongbox/vaults")
        assert vaults.status_code == 200
        assert "hiding" not in [vault["name"] for vault in vaults.json()]
        assert (
            nobody.get(
                "/api/v1/strongbox/vaults/hiding/secrets/hub/docker-config",
                params={"server": "r.example"},
            ).status_code
            == 403
        )
        assert nobody.post("/api/v1/strongbox/vaults", json={"name": "mine"}).status_code == 403
        assert nobody.delete("/api/v1/strongbox/vaults/hiding/secrets/hub").status_code == 403
    with box.client(auth=reader) as can_read:
        assert "hiding" in [v["name"] for v in can_read.get("/api/v1/strongbox/vaults").json()]
        listing = can_read.get("/api/v1/strongbox/vaults/hiding/secrets")
        assert [secret["name"] for secret in listing.json()] == ["hub"]
        assert (
            can_read.get("/api/v1/strongbox/vaults/hiding/secrets/hub").json()["data"]["password"]
            == PASSWORD_VALUE
        )
        assert (
            can_read.put(
                "/api/v1/strongbox/vaults/hiding/secrets/hub", json={"data": {}}
            ).status_code
            == 403
        )
    with box.client(auth=None) as anonymous:
        assert anonymous.get("/api/v1/strongbox/vaults").status_code == 401


def test_docker_config_and_kubernetes_secret(box: RegdProcess) -> None:
    with box.client() as admin:
        _seed(admin, "render")
        config = admin.get(
            "/api/v1/strongbox/vaults/render/secrets/hub/docker-config",
            params={"server": "registry.example.com"},
        ).json()
        entry = config["auths"]["registry.example.com"]
        assert entry["username"] == "robot"
        assert entry["password"] == PASSWORD_VALUE
        assert base64.b64decode(entry["auth"]).decode() == f"robot:{PASSWORD_VALUE}"
        secret = admin.get(
            "/api/v1/strongbox/vaults/render/secrets/hub/k8s-secret",
            params={"server": "registry.example.com", "name": "pull-secret"},
        ).json()
        assert secret["type"] == "kubernetes.io/dockerconfigjson"
        assert secret["metadata"] == {"name": "pull-secret"}
        assert json.loads(base64.b64decode(secret["data"][".dockerconfigjson"])) == config


def _database_bytes(data_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in data_dir.glob("regd.db*"))


def test_encrypted_at_rest_and_master_key_rotation(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_regd(data_dir)
    try:
        with server.client() as admin:
            _seed(admin, "rest")
        assert PASSWORD_VALUE.encode() not in _database_bytes(data_dir)
        assert TOKEN_VALUE.encode() not in _database_bytes(data_dir)
        assert base64.b64encode(TOKEN_VALUE.encode()) not in _database_bytes(data_dir)
        old_keys = sorted(p.name for p in (data_dir / "keys").glob("master-*.key"))
        assert len(old_keys) == 1
        assert oct((data_dir / "keys" / old_keys[0]).stat().st_mode & 0o777) == "0o600"
        # Rotate while regd runs: it must keep reading secrets wrapped under the new key.
        rotated = subprocess.run(
            [sys.executable, "-m", "regd", "rotate-master-key", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            env={**os.environ},
        )
        assert rotated.returncode == 0, rotated.stderr
        assert "re-wrapped 1 secret" in rotated.stderr
        new_keys = sorted(p.name for p in (data_dir / "keys").glob("master-*.key"))
        assert len(new_keys) == 1
        assert new_keys != old_keys
        with server.client() as admin:
            shown = admin.get("/api/v1/strongbox/vaults/rest/secrets/hub").json()
            assert shown["data"]["password"] == PASSWORD_VALUE
    finally:
        server.stop()
    restarted = start_regd(data_dir)
    try:
        with restarted.client() as admin:
            assert (
                admin.get("/api/v1/strongbox/vaults/rest/secrets/hub").json()["data"]["password"]
                == PASSWORD_VALUE
            )
    finally:
        restarted.stop()


def test_master_key_from_the_environment(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    server = start_regd(tmp_path / "data", env={"REGD_MASTER_KEY": key})
    try:
        with server.client() as admin:
            _seed(admin, "envkey")
        assert not list((tmp_path / "data" / "keys").glob("master-*.key"))
    finally:
        server.stop()
    # Restarted with the same key: the secret opens (a wrong key stops regd at start:
    # tests/regd/test_startup.py).
    again = start_regd(tmp_path / "data", env={"REGD_MASTER_KEY": key})
    try:
        with again.client() as admin:
            shown = admin.get("/api/v1/strongbox/vaults/envkey/secrets/hub").json()
            assert shown["data"]["password"] == PASSWORD_VALUE
    finally:
        again.stop()
