"""Contexts, login and logout: the config file, the 0600 credentials file, precedence."""

from __future__ import annotations

import json
import socket
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
def test_login_trades_the_password_for_a_token_in_the_0600_file(
    regctl: Regctl, regd: RegdProcess
) -> None:
    """No keyring works (keyring's fail backend, as on headless CI): the 0600 file."""
    name = urlsplit(regd.url).netloc
    login = regctl(
        "login", regd.url, "--username", "admin", "--password-stdin", input=ADMIN_PASSWORD + "\n"
    )
    assert login.code == 0, login.stderr
    assert login.stdout == ""
    credentials = regctl.config.with_name("credentials.yaml")
    stored_lines = [line for line in login.stderr.splitlines() if "stored in" in line]
    assert len(stored_lines) == 1
    assert stored_lines[0].startswith(
        f"regctl: credentials stored in {credentials} (mode 0600), as no system keyring "
        f"works here: token 'regctl@{socket.gethostname()}', expires "
    )
    assert _mode(credentials) == 0o600
    entry = yaml.safe_load(credentials.read_text())["contexts"][name]
    assert set(entry) == {"username", "token", "token-id"}
    assert entry["username"] == "admin"
    assert entry["token"].startswith(f"regd_{entry['token-id']}_")
    for path in (credentials, regctl.config):
        assert ADMIN_PASSWORD not in path.read_text()
    config = yaml.safe_load(regctl.config.read_text())
    assert config["current-context"] == name
    assert config["contexts"][name] == {
        "server": regd.url,
        "username": "admin",
        "credential-store": "file",
    }

    # The stored token is used (no --server, no REGCTL_*) and is a 30-day personal token.
    [token] = [
        t for t in json.loads(regctl("tokens", "list").stdout) if t["id"] == entry["token-id"]
    ]
    assert (token["name"], token["kind"]) == (f"regctl@{socket.gethostname()}", "personal")
    assert regctl("whoami").stdout == "admin\n"
    assert regctl("whoami", "-t").stdout == entry["token"] + "\n"
    assert regctl("config", "current-context").stdout == f"{name}\n"
    # REGCTL_TOKEN wins over the stored login.
    assert regctl("list", "users", env={"REGCTL_TOKEN": "regd_bogus"}).code == 4

    # Logging in again replaces the token and revokes the old one.
    again = regctl("login", regd.url, "-u", "admin", "--password-stdin", input=ADMIN_PASSWORD)
    assert f"regctl: revoked token {entry['token-id']} on {regd.url}" in again.stderr
    assert regctl("whoami", env={"REGCTL_TOKEN": entry["token"]}).code == 4
    second = yaml.safe_load(credentials.read_text())["contexts"][name]

    logout = regctl("logout")
    assert logout.code == 0
    assert logout.stderr.splitlines() == [
        f"regctl: revoked token {second['token-id']} on {regd.url}",
        f"regctl: logged out of {name}: its credentials are removed",
    ]
    assert name not in yaml.safe_load(credentials.read_text())["contexts"]
    assert regctl("whoami", env={"REGCTL_TOKEN": second["token"]}).code == 4  # revoked
    refused = regctl("whoami")
    assert refused.code == 4
    assert refused.error_lines == [f"regctl: error: not logged in to {regd.url}"]
    assert regctl("logout").stderr == f"regctl: not logged in to {name}\n"


@pytest.mark.api_v1
def test_login_keeps_the_token_in_the_keyring(
    regctl: Regctl, regd: RegdProcess, tmp_path: Path
) -> None:
    keyring_file = tmp_path / "keyring.json"
    regctl.env.update(
        PYTHON_KEYRING_BACKEND="tests.cli.keyring_backend.FileKeyring",
        REGCTL_TEST_KEYRING=str(keyring_file),
    )
    name = urlsplit(regd.url).netloc
    login = regctl("login", regd.url, "-u", "admin", "--password-stdin", input=ADMIN_PASSWORD)
    assert login.code == 0, login.stderr
    assert (
        "regctl: credentials stored in the system keyring (keyring backend FileKeyring, "
        "service 'regctl'): token " in login.stderr
    )
    assert not regctl.config.with_name("credentials.yaml").exists()
    assert yaml.safe_load(regctl.config.read_text())["contexts"][name]["credential-store"] == (
        "keyring"
    )
    entry = json.loads(json.loads(keyring_file.read_text())[f"regctl/{name}"])
    assert entry["username"] == "admin"
    assert entry["token"].startswith("regd_")
    assert ADMIN_PASSWORD not in keyring_file.read_text()

    listed = regctl("config", "get-contexts", "-o", "json")
    assert json.loads(listed.stdout)[0]["credential-store"] == "keyring"
    assert regctl("whoami").stdout == "admin\n"

    assert regctl("logout").code == 0
    assert json.loads(keyring_file.read_text()) == {}
    assert regctl("whoami", env={"REGCTL_TOKEN": entry["token"]}).code == 4


def test_logout_forgets_the_token_when_the_server_is_gone(regctl: Regctl, closed_port: int) -> None:
    server = f"http://127.0.0.1:{closed_port}"
    name = f"127.0.0.1:{closed_port}"
    regctl.config.parent.mkdir(parents=True)
    regctl.config.write_text(
        f"current-context: {name}\ncontexts:\n  {name}: {{server: '{server}', username: a}}\n"
    )
    credentials = regctl.config.with_name("credentials.yaml")
    credentials.write_text(
        f"contexts:\n  {name}: {{username: a, token: regd_abc_def, token-id: abc}}\n"
    )
    credentials.chmod(0o600)
    result = regctl("logout")
    assert result.code == 0
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"regctl: warning: could not revoke token abc on {server}: ")
    assert lines[0].endswith("it stays valid until it expires")
    assert lines[1] == f"regctl: logged out of {name}: its credentials are removed"
    assert yaml.safe_load(credentials.read_text())["contexts"] == {}


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
    assert f"tried http://127.0.0.1:{closed_port}/api/v1/tokens" in result.stderr


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
