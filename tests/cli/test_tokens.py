"""Tokens: ``token show`` in brightbox's formats (fed to the real docker CLI), personal
access tokens, ``whoami``."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
import yaml

from tests.cli.conftest import Regctl, need
from tests.support.oci import push_image
from tests.support.server import RegdProcess

pytestmark = pytest.mark.api_v1


def test_token_show_in_every_format(admin: Regctl, regd: RegdProcess) -> None:
    text = admin("token")  # bare 'regctl token' is 'token show'
    assert text.code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == ["access_token", "token_type", "expires_at"]
    assert lines[0].startswith("access_token: regd_")
    assert lines[1] == "token_type: Bearer"

    bare = admin("token", "show", "--format=token")
    assert bare.stdout.startswith("regd_")
    assert bare.stdout.count("\n") == 1
    token = bare.stdout.strip()
    # A short-lived (1h) session token of admin's.
    whose = admin("whoami", env={"REGCTL_TOKEN": token, "REGCTL_USERNAME": ""})
    assert whose.stdout == "admin\n"

    as_json = json.loads(admin("token", "show", "-o", "json").stdout)
    assert set(as_json) == {"access_token", "token_type", "expires_at"}
    assert admin("-o", "json", "token").stdout.startswith("{")

    config = json.loads(admin("token", "show", "--format", "docker-config").stdout)
    [(host, entry)] = config["auths"].items()
    assert host == regd.host
    user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
    assert user == "admin"
    assert secret.startswith("regd_")

    curl = admin("token", "show", "--format", "curl")
    assert curl.stdout.startswith("curl -H 'Authorization: Bearer regd_")
    ran = admin.shell(curl.stdout.strip() + " -fsS")
    assert ran.code == 0, ran.stderr
    assert isinstance(json.loads(ran.stdout), list)


@pytest.mark.e2e
def test_token_show_feeds_docker_login(
    admin: Regctl, regd: RegdProcess, http: httpx.Client
) -> None:
    need("docker")
    image = push_image(http, "cli-tokens/docker", "1.0", seed="cli-tokens-docker")
    reference = f"{regd.host}/cli-tokens/docker:1.0"
    anonymous = admin.run("docker", "manifest", "inspect", "--insecure", reference)
    assert anonymous.code != 0

    login = admin.shell(
        "regctl token show --format=token "
        f"| docker login --username admin --password-stdin {regd.host}"
    )
    assert login.code == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    inspected = admin.run("docker", "manifest", "inspect", "--insecure", reference)
    assert inspected.code == 0, inspected.stderr
    assert (
        json.loads(inspected.stdout)["config"]["digest"]
        == json.loads(image.manifest)["config"]["digest"]
    )


def test_personal_access_tokens(admin: Regctl) -> None:
    created = admin(
        "tokens", "create", "--ttl", "4h", "--name", "cli-ci", "--policies", "registry-pull"
    )
    assert created.code == 0, created.stderr
    assert created.stderr == "regctl: the token is shown once: keep it now\n"
    token = json.loads(created.stdout)
    assert (token["name"], token["kind"], token["policies"]) == (
        "cli-ci",
        "personal",
        ["registry-pull"],
    )
    as_token = {"REGCTL_TOKEN": token["token"]}
    listed = admin("tokens", "list", "-o", "json", env=as_token)
    assert token["id"] in [t["id"] for t in json.loads(listed.stdout)]
    assert "token" not in json.loads(listed.stdout)[0]
    # Limited to registry-pull: no user management through it.
    limited = admin("users", "list", env=as_token)
    assert limited.code == 4
    assert "the token in REGCTL_TOKEN lacks the right" in limited.stderr

    table = admin("tokens", "list", "--all", "-o", "table")
    assert table.stdout.splitlines()[0].split() == [
        "ID",
        "NAME",
        "KIND",
        "PRINCIPAL",
        "POLICIES",
        "EXPIRES",
        "REVOKED",
    ]

    revoked = admin("tokens", "revoke", token["id"])
    assert revoked.stderr == f"regctl: revoked token {token['id']}\n"
    assert admin("whoami", env=as_token).code == 4

    missing_ttl = admin("tokens", "create", "--name", "x")
    assert missing_ttl.code == 2
    assert "Missing option '--ttl'" in missing_ttl.error_lines[0]
    unlimited = admin("do", "strongbox", "token", "create-token")
    assert unlimited.code == 1
    assert "unlimited token is refused" in unlimited.error_lines[0]


def test_do_create_token_as_supctl_prints_yaml(admin: Regctl) -> None:
    result = admin(
        "do", "strongbox", "token", "create-token", "--policies", "registry-push", "--ttl", "4h"
    )
    assert result.code == 0, result.stderr
    token = yaml.safe_load(result.stdout)
    assert {"accessor", "token", "creation-time"} <= set(token)
    assert token["policies"] == ["registry-push"]
    both = admin(
        "do",
        "strongbox",
        "token",
        "create-token",
        "--ttl=1h",
        "--policies=registry-pull,registry-push",
        "-o",
        "json",
    )
    assert json.loads(both.stdout)["policies"] == ["registry-pull", "registry-push"]


def test_whoami_without_credentials(regctl: Regctl, regd: RegdProcess) -> None:
    result = regctl("whoami", "--server", regd.url)
    assert result.code == 4
    assert result.error_lines == [f"regctl: error: not logged in to {regd.url}"]
    assert regctl("whoami", "-t", "--server", regd.url).code == 4
