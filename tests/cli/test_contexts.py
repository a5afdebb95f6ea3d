"""Contexts, login and logout: the config file, the 0600 credentials file, precedence."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.cli.conftest import Regctl
from tests.support.server import ADMIN_PASSWORD, RegdProcess


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.api_v1
def test_login_stores_a_context_and_0600_credentials(regctl: Regctl, regd: RegdProcess) -> None:
    name = urlsplit(regd.url).netloc
    login = regctl(
        "login", regd.url, "--username", "admin", "--password-stdin", input=ADMIN_PASSWORD + "\n"
    )
    assert login.code == 0, login.stderr
    assert login.stdout == ""
    credentials = regctl.config.with_name("credentials.yaml")
    assert f"regctl: credentials stored in {credentials} (mode 0600)" in login.stderr
    assert _mode(credentials) == 0o600
    stored = yaml.safe_load(credentials.read_text())
    assert stored["contexts"][name] == {"username": "admin", "password": ADMIN_PASSWORD}
    config = yaml.safe_load(regctl.config.read_text())
    assert config["current-context"] == name
    assert config["contexts"][name]["server"] == regd.url
    assert ADMIN_PASSWORD not in regctl.config.read_text()

    assert regctl("config", "current-context").stdout == f"{name}\n"
    contexts = regctl.shell("regctl config get-contexts | jq -c '.[] | [.name, .current]'")
    assert contexts.stdout == json.dumps([name, True], separators=(",", ":")) + "\n"

    # The stored login is used: no --server, no REGCTL_* credentials.
    assert regctl("list", "users").code == 0
    # REGCTL_TOKEN wins over the stored password.
    assert regctl("list", "users", env={"REGCTL_TOKEN": "regd_bogus"}).code == 4

    logout = regctl("logout")
    assert logout.code == 0
    assert "admin" not in yaml.safe_load(credentials.read_text())["contexts"].get(name, {})
    assert regctl("list", "users").code == 4
    assert regctl("logout").stderr == f"regctl: not logged in to {name}\n"


@pytest.mark.api_v1
def test_a_refused_login_stores_nothing(regctl: Regctl, regd: RegdProcess) -> None:
    result = regctl("login", regd.url, "-u", "admin", "--password-stdin", input="wrong\n")
    assert result.code == 4
    assert result.error_lines == [
        f"regctl: error: login to {regd.url} refused: "
        "401 Unauthorized: invalid username or password"
    ]
    assert not regctl.config.exists()
    assert not regctl.config.with_name("credentials.yaml").exists()


@pytest.mark.api_v1
def test_login_asks_for_the_password_without_echo(regctl: Regctl, regd: RegdProcess) -> None:
    result = regctl.on_terminal(
        "login", regd.url, "-u", "admin", answer=("Password:", ADMIN_PASSWORD)
    )
    assert result.code == 0, result.stdout
    assert ADMIN_PASSWORD not in result.stdout
    assert "regctl: logged in to" in result.stdout


def test_login_without_a_password_on_a_pipe_is_a_usage_error(regctl: Regctl) -> None:
    result = regctl("login", "http://127.0.0.1:1", "-u", "admin")
    assert result.code == 2
    assert "no password" in result.error_lines[0]


def test_login_to_a_closed_port(regctl: Regctl, closed_port: int) -> None:
    result = regctl("login", f"127.0.0.1:{closed_port}", "-u", "a", "--password-stdin", input="pw")
    assert result.code == 5
    assert f"tried http://127.0.0.1:{closed_port}/v2/" in result.stderr


def test_contexts_without_a_server(regctl: Regctl, closed_port: int) -> None:
    regctl.config.parent.mkdir(parents=True)
    regctl.config.write_text(
        "current-context: one\n"
        "contexts:\n"
        f"  one: {{server: 'http://127.0.0.1:{closed_port}'}}\n"
        "  two: {server: 'https://reg.example.com'}\n"
    )
    listed = regctl("config", "get-contexts", "-o", "json")
    assert [(c["name"], c["current"]) for c in json.loads(listed.stdout)] == [
        ("one", True),
        ("two", False),
    ]
    # The current context gives the server...
    assert f"tried http://127.0.0.1:{closed_port}/" in regctl("list", "users").stderr
    # ... and use-context switches it.
    switched = regctl("config", "use-context", "two")
    assert switched.stderr == "regctl: switched to context 'two' (https://reg.example.com)\n"
    assert regctl("config", "current-context").stdout == "two\n"

    table = regctl("config", "get-contexts", "-o", "table")
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0] == ["CURRENT", "NAME", "SERVER", "USER", "CREDENTIALS"]
    assert rows[3] == ["*", "two", "https://reg.example.com", "file"]

    unknown = regctl("config", "use-context", "three")
    assert unknown.code == 3
    assert "no context named 'three'" in unknown.error_lines[0]

    assert regctl("config", "delete-context", "two").code == 0
    none = regctl("config", "current-context")
    assert none.code == 3
    assert none.error_lines == ["regctl: error: no current context"]


def test_a_broken_config_file_names_line_and_column(regctl: Regctl) -> None:
    regctl.config.parent.mkdir(parents=True)
    regctl.config.write_text("contexts:\n  one: [\n")
    result = regctl("config", "get-contexts")
    assert result.code == 2
    assert result.error_lines[0].startswith(f"regctl: error: cannot parse {regctl.config}: line 3")
