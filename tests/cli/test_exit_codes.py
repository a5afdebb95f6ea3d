"""Every exit code of the contract, provoked for real; errors are one line on stderr."""

from __future__ import annotations

import sqlite3

import pytest

from tests.cli.conftest import Regctl
from tests.support.oci import push_image
from tests.support.server import ADMIN_PASSWORD, RegdProcess


def test_5_when_nothing_listens(regctl: Regctl, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    result = regctl("repositories", "list", "--server", url)
    assert result.code == 5
    assert result.stdout == ""
    assert result.error_lines == [
        f"regctl: error: cannot reach regd at {url}: [Errno 111] Connection refused"
    ]
    assert f"regctl: hint: is 'regd serve' running? tried {url}/api/v1/repositories" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_5_by_the_environment_and_quiet_drops_the_hint(regctl: Regctl, closed_port: int) -> None:
    result = regctl("list", "repositories", "-q", env={"REGCTL_SERVER": f"127.0.0.1:{closed_port}"})
    assert result.code == 5
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("regctl: error: cannot reach regd at http://127.0.0.1:")


@pytest.mark.api_v1
def test_3_for_an_unknown_repository(admin: Regctl) -> None:
    for args in (
        ("repositories", "show", "cli-exit/no-such-repo"),
        ("show", "repositories", "cli-exit/no-such-repo"),
    ):
        result = admin(*args)
        assert result.code == 3, (args, result)
        assert result.stdout == ""
        assert len(result.error_lines) == 1
        assert result.error_lines[0].startswith("regctl: error: 404 Not Found: ")
        assert "cli-exit/no-such-repo" in result.error_lines[0]


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (("lst",), "No such command 'lst'.", "regctl --help"),
        (("list",), "Missing argument 'WORD'.", "regctl list --help"),
        (("tags", "delete", "only-repo"), "Missing argument 'TAG'.", "regctl tags delete --help"),
        (("-o", "xml", "list", "users"), "Invalid value for '-o' / '--format'", "regctl --help"),
        (("repositories", "list", "--bogus"), "No such option: --bogus", "repositories list"),
    ],
)
def test_2_for_usage_errors(regctl: Regctl, args: tuple[str, ...], message: str, hint: str) -> None:
    result = regctl(*args)
    assert result.code == 2
    assert result.stdout == ""
    assert len(result.error_lines) == 1
    assert message in result.error_lines[0]
    assert hint in result.stderr


def test_2_without_arguments_prints_the_help_on_stderr(regctl: Regctl) -> None:
    result = regctl()
    assert result.code == 2
    assert result.stdout == ""
    assert "Usage: regctl" in result.stderr


def test_2_for_a_bad_server_url(regctl: Regctl) -> None:
    result = regctl("list", "users", "--server", "ftp://example.com")
    assert result.code == 2
    assert result.error_lines == [
        "regctl: error: invalid server URL 'ftp://example.com': expected http(s)://HOST[:PORT]"
    ]


@pytest.mark.api_v1
def test_4_without_credentials_and_with_wrong_ones(regctl: Regctl, regd: RegdProcess) -> None:
    anonymous = regctl("repositories", "list", "--server", regd.url)
    assert anonymous.code == 4
    assert anonymous.error_lines == ["regctl: error: 401 Unauthorized: authentication required"]
    assert f"regctl: hint: log in first: regctl login {regd.url}" in anonymous.stderr

    wrong = regctl(
        "repositories",
        "list",
        "--server",
        regd.url,
        env={"REGCTL_USERNAME": "admin", "REGCTL_PASSWORD": "not-the-password"},
    )
    assert wrong.code == 4
    assert "invalid username or password" in wrong.error_lines[0]

    bad_token = regctl("list", "users", env={"REGCTL_SERVER": regd.url, "REGCTL_TOKEN": "nope"})
    assert bad_token.code == 4


@pytest.mark.api_v1
def test_1_for_a_client_error_other_than_404(admin: Regctl) -> None:
    result = admin("create", "users", input="name: cli-exit-nopassword\n")
    assert result.code == 1
    assert result.error_lines == ["regctl: error: 400 Bad Request: 'password' is required"]


@pytest.mark.api_v1
def test_1_for_a_server_error(regctl: Regctl, fresh_regd: RegdProcess) -> None:
    """A real 503: regd's database loses a table under it."""
    with fresh_regd.client() as http:
        push_image(http, "cli-exit/broken", "1.0")
    database = sqlite3.connect(fresh_regd.data_dir / "regd.db")
    try:
        database.execute("ALTER TABLE tags RENAME TO tags_gone")
        database.commit()
    finally:
        database.close()
    env = {
        "REGCTL_SERVER": fresh_regd.url,
        "REGCTL_USERNAME": "admin",
        "REGCTL_PASSWORD": ADMIN_PASSWORD,
    }
    result = regctl("repositories", "list", env=env)
    assert result.code == 1
    (line,) = result.error_lines
    # A broken database reads as an outage, with the request id regd also logged.
    assert line.startswith("regctl: error: 503 Service Unavailable: database unavailable"), line
    assert "request id" in line
    assert "Traceback" not in result.stderr

    debug = regctl("repositories", "list", "--debug", env=env)
    assert debug.code == 1
    assert "regctl: debug: > GET " in debug.stderr
    assert "regctl: debug: < 503 Service Unavailable" in debug.stderr
    assert "Traceback (most recent call last)" in debug.stderr


def test_the_version(regctl: Regctl) -> None:
    assert regctl("--version").stdout.startswith("regctl ")
    assert regctl("version").code == 0
