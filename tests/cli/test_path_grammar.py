"""The supctl grammar against a real regd: verbs, nested names, heredocs, ``do``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from tests.cli.conftest import Regctl
from tests.support.oci import push_image
from tests.support.server import RegdProcess

pytestmark = pytest.mark.api_v1


def test_show_and_list_with_nested_and_plain_names(admin: Regctl, http: httpx.Client) -> None:
    image = push_image(http, "cli-grammar/team/app", "1.0", seed="cli-grammar")
    push_image(http, "cli-grammar-plain", "2.0", seed="cli-grammar-plain")

    tag = admin("show", "repositories", "cli-grammar/team/app", "tags", "1.0")
    assert tag.code == 0, tag.stderr
    assert yaml.safe_load(tag.stdout)["digest"] == image.digest  # YAML by default

    tags = admin("list", "repositories", "cli-grammar/team/app", "tags")
    assert yaml.safe_load(tags.stdout) == ["1.0"]
    manifests = admin("list", "repositories", "cli-grammar/team/app", "manifests", "-o", "name")
    assert manifests.stdout == f"{image.digest}\n"

    plain = admin("list", "repositories", "cli-grammar-plain", "-", "tags", "-o", "json")
    assert json.loads(plain.stdout) == ["2.0"]
    # Without the '-' the words are one (two-component) repository name: not found.
    assert admin("list", "repositories", "cli-grammar-plain", "tags").code == 3

    shown = admin("show", "repositories", "cli-grammar/team/app", "-o", "json")
    assert json.loads(shown.stdout)["tag-count"] == 1


def test_options_after_the_verb_win(admin: Regctl, http: httpx.Client) -> None:
    push_image(http, "cli-grammar-after/app", "1.0", seed="cli-after")
    result = admin(
        "-o", "json", "list", "repositories", "cli-grammar-after/app", "tags", "-o", "name"
    )
    assert result.stdout == "1.0\n"


def test_list_output_through_jq(admin: Regctl, http: httpx.Client) -> None:
    push_image(http, "cli-grammar-jq/one", "1.0", seed="cli-jq-1")
    push_image(http, "cli-grammar-jq/two", "1.0", seed="cli-jq-2")
    result = admin.shell(
        "regctl list repositories -o json | jq -r '.[] | select(startswith(\"cli-grammar-jq/\"))'"
    )
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == ["cli-grammar-jq/one", "cli-grammar-jq/two"]

    full = admin.shell(
        "regctl show repositories -o json "
        '| jq -r \'.[] | select(.name == "cli-grammar-jq/one") | ."tag-count"\''
    )
    assert full.stdout == "1\n"


def test_create_and_merge_from_heredocs(admin: Regctl, regd: RegdProcess) -> None:
    created = admin.shell(
        """regctl create users <<EOF
name: cli-heredoc-alice
password: first-password-1
policies: [registry-pull]
EOF"""
    )
    assert created.code == 0, created.stderr
    user = yaml.safe_load(created.stdout)
    assert user["name"] == "cli-heredoc-alice"
    assert user["policies"] == ["registry-pull"]
    assert "password" not in user

    merged = admin.shell(
        """regctl merge users cli-heredoc-alice -o json <<'EOF'
{"password": "second-password-2"}
EOF"""
    )
    assert merged.code == 0, merged.stderr
    assert json.loads(merged.stdout)["name"] == "cli-heredoc-alice"
    with regd.client(auth=("cli-heredoc-alice", "second-password-2")) as http:
        assert http.get("/v2/").status_code == 200
    with regd.client(auth=("cli-heredoc-alice", "first-password-1")) as http:
        assert http.get("/v2/").status_code == 401

    again = admin.shell(
        "printf 'name: cli-heredoc-alice\\npassword: x-password-3\\n' | regctl create users"
    )
    assert again.code == 1
    assert again.error_lines[0].startswith("regctl: error: 409 Conflict")

    assert admin("delete", "users", "cli-heredoc-alice").code == 0
    assert admin("show", "users", "cli-heredoc-alice").code == 3


def test_create_from_a_file(admin: Regctl, tmp_path: Path) -> None:
    body = tmp_path / "bob.json"
    body.write_text(json.dumps({"name": "cli-file-bob", "password": "bob-password-1"}))
    result = admin("create", "users", "-f", str(body), "-o", "name")
    assert result.code == 0, result.stderr
    assert result.stdout == "cli-file-bob\n"
    assert admin("delete", "users", "cli-file-bob", "-q").code == 0
    missing = admin("create", "users", "-f", str(tmp_path / "missing.yaml"))
    assert missing.code == 2
    assert "cannot read" in missing.error_lines[0]


def test_a_body_that_does_not_parse_names_line_and_column(admin: Regctl) -> None:
    bad_yaml = admin.shell(
        """regctl merge users admin <<EOF
password: fine
  nested: [1, 2
EOF"""
    )
    assert bad_yaml.code == 2
    assert len(bad_yaml.error_lines) == 1
    assert bad_yaml.error_lines[0].startswith(
        "regctl: error: cannot parse the body (stdin, YAML): line 2, column 9: "
        "mapping values are not allowed"
    )
    bad_json = admin.shell(
        """regctl create users <<EOF
{"name": "x",
 "password" "y"}
EOF"""
    )
    assert bad_json.code == 2
    assert bad_json.error_lines == [
        "regctl: error: cannot parse the body (stdin, JSON): line 2, column 13: "
        "Expecting ':' delimiter"
    ]
    empty = admin("create", "users", input="")
    assert empty.code == 2
    assert "empty body" in empty.error_lines[0]


def test_do_posts_the_flags_and_the_token_works(admin: Regctl, regctl: Regctl) -> None:
    minted = admin("do", "strongbox", "token", "create-token", "--ttl", "4h", "-o", "json")
    assert minted.code == 0, minted.stderr
    token = json.loads(minted.stdout)
    assert token["token"].startswith("regd_")
    assert token["accessor"]

    as_token = admin("list", "users", env={"REGCTL_TOKEN": token["token"]})
    assert as_token.code == 0, as_token.stderr
    assert "admin" in yaml.safe_load(as_token.stdout)

    debug = admin("--debug", "do", "strongbox", "token", "create-token", "--ttl=1h", "-o", "name")
    assert "> POST " in debug.stderr
    assert "/api/v1/strongbox/token/create-token (application/json, 13 bytes)" in debug.stderr
    assert token["token"] not in debug.stderr

    incomplete = admin("do", "tokens")
    assert incomplete.code == 2
