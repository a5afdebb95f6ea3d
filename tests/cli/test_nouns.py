"""The noun grammar: a table on a terminal, JSON in a pipe, ``-o`` over both."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.cli.conftest import Regctl
from tests.support.oci import push_image

pytestmark = pytest.mark.api_v1


def test_json_when_stdout_is_not_a_terminal(admin: Regctl, http: httpx.Client) -> None:
    push_image(http, "cli-nouns-json/app", "1.0", seed="cli-nouns-json")
    result = admin("repositories", "list", "--prefix", "cli-nouns-json/")
    assert result.code == 0, result.stderr
    [repository] = json.loads(result.stdout)
    assert repository["name"] == "cli-nouns-json/app"
    assert repository["tag-count"] == 1

    through_jq = admin.shell("regctl repos list --prefix cli-nouns-json/ | jq -r '.[0].name'")
    assert through_jq.stdout == "cli-nouns-json/app\n"


def test_a_table_on_a_terminal(admin: Regctl, http: httpx.Client) -> None:
    image = push_image(http, "cli-nouns-table/app", "1.0", seed="cli-nouns-table")
    push_image(http, "cli-nouns-table/other", "2.0", seed="cli-nouns-table-2")
    table = admin.on_terminal("repositories", "list", "--prefix", "cli-nouns-table/")
    assert table.code == 0, table.stdout
    lines = [line.rstrip() for line in table.stdout.splitlines() if line.strip()]
    assert lines[0].split() == ["NAME", "TAGS", "MANIFESTS", "CREATED"]
    assert set(lines[1]) == {"─"}
    assert lines[2].split()[:3] == ["cli-nouns-table/app", "1", "1"]
    assert lines[3].split()[:3] == ["cli-nouns-table/other", "1", "1"]

    tags = admin.on_terminal("tags", "list", "cli-nouns-table/app")
    rows = [line.split() for line in tags.stdout.splitlines() if line.strip()]
    assert rows[0] == ["TAG", "DIGEST", "UPDATED"]
    assert rows[2][:2] == ["1.0", image.digest[: len("sha256:") + 12]]

    shown = admin.on_terminal("repositories", "show", "cli-nouns-table/app")
    pairs = dict(line.split(None, 1) for line in shown.stdout.splitlines() if line.strip())
    assert pairs["name"].strip() == "cli-nouns-table/app"
    assert pairs["tag-count"].strip() == "1"

    as_json = admin.on_terminal("repositories", "show", "cli-nouns-table/app", "-o", "json")
    assert json.loads(as_json.stdout)["name"] == "cli-nouns-table/app"


def test_format_table_in_a_pipe_and_name(admin: Regctl, http: httpx.Client) -> None:
    push_image(http, "cli-nouns-fmt/app", "1.0", seed="cli-nouns-fmt")
    push_image(http, "cli-nouns-fmt/app", "latest", seed="cli-nouns-fmt-2")
    table = admin("tags", "list", "cli-nouns-fmt/app", "-o", "table")
    assert table.stdout.splitlines()[0].split() == ["TAG", "DIGEST", "UPDATED"]
    assert "\x1b[" not in table.stdout
    names = admin("-o", "name", "tags", "list", "cli-nouns-fmt/app")
    assert names.stdout == "1.0\nlatest\n"
    as_yaml = admin("repos", "show", "cli-nouns-fmt/app", "-o", "yaml")
    assert "name: cli-nouns-fmt/app\n" in as_yaml.stdout


def test_delete_a_tag_then_the_repository(admin: Regctl, http: httpx.Client) -> None:
    push_image(http, "cli-nouns-delete/app", "1.0", seed="cli-nouns-delete")
    push_image(http, "cli-nouns-delete/app", "2.0", seed="cli-nouns-delete-2")

    deleted = admin("tags", "delete", "cli-nouns-delete/app", "1.0")
    assert deleted.code == 0, deleted.stderr
    assert deleted.stdout == ""
    assert deleted.stderr == "regctl: deleted tag cli-nouns-delete/app:1.0\n"
    assert admin("tags", "list", "cli-nouns-delete/app", "-o", "name").stdout == "2.0\n"
    assert admin("tags", "delete", "cli-nouns-delete/app", "1.0").code == 3

    quiet = admin("repositories", "delete", "cli-nouns-delete/app", "--quiet")
    assert (quiet.code, quiet.stdout, quiet.stderr) == (0, "", "")
    assert admin("repositories", "show", "cli-nouns-delete/app").code == 3


def test_an_empty_list(admin: Regctl) -> None:
    as_json = admin("repositories", "list", "--prefix", "cli-nouns-none/")
    assert json.loads(as_json.stdout) == []
    table = admin("repositories", "list", "--prefix", "cli-nouns-none/", "-o", "table")
    assert table.stdout == ""
    assert table.stderr == "regctl: no repositories\n"
