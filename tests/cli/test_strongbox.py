"""Strongbox and remote registries: supctl's documented examples end to end, and the
noun commands (vaults, secrets, remote-registries)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import Regctl
from tests.support.server import ADMIN_PASSWORD, RegdProcess

pytestmark = pytest.mark.api_v1


def test_the_supctl_examples(regctl: Regctl, fresh_regd: RegdProcess) -> None:
    """On a regd of its own: the default remote registry must not leak into other tests."""
    regctl.env.update(
        REGCTL_SERVER=fresh_regd.url, REGCTL_USERNAME="admin", REGCTL_PASSWORD=ADMIN_PASSWORD
    )
    script = """
set -e
regctl create strongbox vaults <<EOF
name: creds
distribute:
  to: all
EOF
echo ---
regctl create strongbox vaults creds secrets <<EOF
name: hub
allow-image-access: ["*"]
data:
  username: bot
  password: hub-password-1
EOF
echo ---
regctl create image-registry remote-registries <<EOF
address: registry.example.com:6000
credentials:
  - repository: '*'
    vault: creds
    secret: hub
EOF
echo ---
regctl show strongbox vaults creds secrets hub
echo ---
regctl merge image-registry settings <<< 'default-remote-registry: docker.io'
echo ---
regctl do strongbox token create-token --policies registry-push --ttl 4h
echo ---
regctl replace strongbox vaults v1 <<< 'name: v1'
echo ---
regctl replace strongbox vaults v1 <<< '{"name": "v1", "distribute": {"to": "all"}}'
"""
    done = regctl.shell(script)
    assert done.code == 0, done.stderr
    vault, created, remote, secret, settings, token, v1, replaced = (
        yaml.safe_load(part) for part in done.stdout.split("---\n")
    )
    assert (vault["name"], vault["distribute"]) == ("creds", {"to": "all"})
    assert created["keys"] == ["password", "username"]
    assert remote["name"] == "registry.example.com-6000"
    assert remote["credentials"] == [{"repository": "*", "vault": "creds", "secret": "hub"}]
    assert secret["data"] == {"username": "bot", "password": "hub-password-1"}
    assert secret["allow-image-access"] == ["*"]
    assert settings["default-remote-registry"] == "docker.io"
    assert {"accessor", "token", "creation-time"} <= set(token)
    assert token["policies"] == ["registry-push"]
    assert v1["name"] == "v1"
    assert replaced["distribute"] == {"to": "all"}

    listed = regctl("list", "image-registry", "remote-registries")
    assert yaml.safe_load(listed.stdout) == ["registry.example.com:6000"]
    assert yaml.safe_load(regctl("list", "strongbox", "vaults").stdout) == ["creds", "v1"]
    reset = regctl("replace", "image-registry", "settings", input="{}")
    assert yaml.safe_load(reset.stdout)["default-remote-registry"] is None


def test_vaults_and_secrets(admin: Regctl, tmp_path: Path) -> None:
    created = admin("vaults", "create", "cli-vault")
    assert created.code == 0, created.stderr
    assert json.loads(created.stdout)["name"] == "cli-vault"
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\xff\x00binary")
    secret = admin(
        "secrets", "create", "cli-vault", "registry",
        "--from-literal", "username=cli-bot", "--from-literal", "password=p=w",
        "--from-file", f"key={blob}", "--allow-image-access", "*",
    )  # fmt: skip
    assert secret.code == 0, secret.stderr
    assert json.loads(secret.stdout)["keys"] == ["key", "password", "username"]
    from_body = admin("secrets", "create", "cli-vault", "token", input="data: {token: t0k}\n")
    assert from_body.code == 0, from_body.stderr

    listed = admin("secrets", "list", "cli-vault", "-o", "table")
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["NAME", "KEYS", "UPDATED"]
    assert rows[2][:4] == ["registry", "key,", "password,", "username"]
    assert "p=w" not in listed.stdout
    shown = json.loads(admin("secrets", "show", "cli-vault", "registry").stdout)
    assert shown["data"] == {"username": "cli-bot", "password": "p=w"}
    assert shown["base64-data"] == {"key": "/wBiaW5hcnk="}

    # Without strongbox-read nothing of the vault shows: not values, not even key names.
    admin("users", "create", "cli-erin", "--password-stdin", input="erin-password-1")
    erin = {"REGCTL_USERNAME": "cli-erin", "REGCTL_PASSWORD": "erin-password-1"}
    hidden = admin("secrets", "show", "cli-vault", "registry", env=erin)
    assert hidden.code == 4
    assert "p=w" not in hidden.stdout + hidden.stderr
    assert "username" not in hidden.stdout + hidden.stderr
    assert admin("secrets", "delete", "cli-vault", "token", env=erin).code == 4
    admin("users", "delete", "cli-erin", "-q")

    vaults = json.loads(admin("vaults", "list").stdout)
    assert {"name": "cli-vault", "secret-count": 2}.items() <= next(
        v for v in vaults if v["name"] == "cli-vault"
    ).items()
    assert json.loads(admin("vaults", "show", "cli-vault").stdout)["secret-count"] == 2
    deleted = admin("secrets", "delete", "cli-vault", "token")
    assert deleted.stderr == "regctl: deleted secret token from cli-vault\n"
    assert admin("secrets", "show", "cli-vault", "token").code == 3
    assert admin("secrets", "create", "cli-vault", "x", "--from-literal", "novalue").code == 2
    assert admin("vaults", "delete", "cli-vault").stderr == "regctl: deleted vault cli-vault\n"
    assert admin("vaults", "show", "cli-vault").code == 3


def test_remote_registries(admin: Regctl, tmp_path: Path) -> None:
    admin("vaults", "create", "cli-remote-creds")
    admin("secrets", "create", "cli-remote-creds", "quay", "--from-literal", "token=abc")
    body = tmp_path / "remote.yaml"
    body.write_text(
        "address: cli-quay.example.com\n"
        "name: cli-quay\n"
        "credentials: [{repository: 'team/*', vault: cli-remote-creds, secret: quay}]\n"
    )
    created = admin("remote-registries", "create", "-f", str(body))
    assert created.code == 0, created.stderr
    assert json.loads(created.stdout)["name"] == "cli-quay"
    table = admin("remote-registries", "list", "-o", "table")
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0] == ["ADDRESS", "NAME", "CREDENTIALS", "CREATED"]
    assert ["cli-quay.example.com", "cli-quay", "team/*", "cli-remote-creds/quay"] in [
        row[:4] for row in rows
    ]
    shown = json.loads(admin("remote-registries", "show", "cli-quay.example.com").stdout)
    assert shown["credentials"][0]["secret"] == "quay"
    missing_secret = admin(
        "remote-registries", "create",
        input="address: cli-bad.example.com\ncredentials: [{vault: cli-remote-creds, secret: no}]",
    )  # fmt: skip
    assert missing_secret.code == 1
    removed = admin("remote-registries", "delete", "cli-quay.example.com")
    assert removed.stderr == "regctl: removed remote registry cli-quay.example.com\n"
    assert admin("remote-registries", "show", "cli-quay.example.com").code == 3
    admin("vaults", "delete", "cli-remote-creds", "-q")


def test_opensvc_registry_credentials_kept_as_a_secret(admin: Regctl, tmp_path: Path) -> None:
    """OpenSVC keeps a whole config.json in one key; others keep username and password.
    Both render through regctl as docker-config and k8s-secret, and keys change one by one."""
    import base64

    assert admin("vaults", "create", "osvc").code == 0
    config = {"auths": {"registry.opensvc.example": {"auth": "b3N2YzpzM2NyZXQ="}}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    made = admin("secrets", "create", "osvc", "creds", "--from-file", f"config.json={path}")
    assert made.code == 0, made.stderr

    # A config.json key renders as itself (no --registry needed)...
    rendered = admin("secrets", "show", "osvc", "creds", "-o", "docker-config")
    assert rendered.code == 0, rendered.stderr
    assert json.loads(rendered.stdout) == config
    k8s = yaml.safe_load(admin("secrets", "show", "osvc", "creds", "-o", "k8s-secret").stdout)
    assert k8s["type"] == "kubernetes.io/dockerconfigjson"
    assert k8s["metadata"] == {"name": "creds"}
    assert json.loads(base64.b64decode(k8s["data"][".dockerconfigjson"])) == config

    # ... username+password renders as a new config.json for --registry.
    literal = ["--from-literal", "username=robot", "--from-literal", "password=pw-1"]
    assert admin("secrets", "create", "osvc", "hub", *literal).code == 0
    missing = admin("secrets", "show", "osvc", "hub", "-o", "docker-config")
    assert missing.code == 1
    assert "--registry HOST" in missing.error_lines[0]
    hub = admin("secrets", "show", "osvc", "hub", "-o", "docker-config", "--registry", "docker.io")
    entry = json.loads(hub.stdout)["auths"]["docker.io"]
    assert (entry["username"], entry["password"]) == ("robot", "pw-1")
    named = admin(
        "secrets", "show", "osvc", "hub", "-o", "k8s-secret", "--registry", "docker.io",
        "--secret-name", "pull-hub",
    )  # fmt: skip
    assert yaml.safe_load(named.stdout)["metadata"] == {"name": "pull-hub"}
    # The path grammar passes the query parameter with --param.
    shown = admin(
        "show", "strongbox", "vaults", "osvc", "secrets", "hub", "docker-config",
        "--param", "server=quay.io",
    )  # fmt: skip
    assert shown.code == 0, shown.stderr
    assert yaml.safe_load(shown.stdout)["auths"]["quay.io"]["username"] == "robot"
    assert admin("show", "strongbox", "vaults", "osvc", "--param", "server").code == 2

    # One key changes; the others stay (secrets set and the path grammar's merge: PATCH).
    changed = admin("secrets", "set", "osvc", "hub", "password=pw-2", "-o", "json")
    assert changed.code == 0, changed.stderr
    assert json.loads(changed.stdout)["keys"] == ["password", "username"]
    values = json.loads(admin("secrets", "show", "osvc", "hub", "-o", "json").stdout)["data"]
    assert values == {"username": "robot", "password": "pw-2"}
    path.write_text(json.dumps({"auths": {}}))
    admin("secrets", "set", "osvc", "creds", "--from-file", f"config.json={path}")
    assert json.loads(admin("secrets", "show", "osvc", "creds", "-o", "docker-config").stdout) == {
        "auths": {}
    }
    merged = admin(
        "merge", "strongbox", "vaults", "osvc", "secrets", "hub", input="data: {token: t-1}\n"
    )
    assert merged.code == 0, merged.stderr
    assert yaml.safe_load(merged.stdout)["keys"] == ["password", "token", "username"]
    removed = admin("secrets", "set", "osvc", "hub", "--remove", "token", "-o", "json")
    assert json.loads(removed.stdout)["keys"] == ["password", "username"]
    assert admin("secrets", "set", "osvc", "hub").code == 2
    assert admin("secrets", "set", "osvc", "nothing", "a=b").code == 3
    neither = admin("secrets", "show", "osvc", "hub", "-o", "env")
    assert neither.code == 2
