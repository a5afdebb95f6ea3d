"""regctl as a new user meets it: help that names values (no Python types), unknown paths
named with the nearest known one, https:// against a plain-HTTP regd said plainly, and the
man pages and completions that ``pip install`` puts beside the commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ADMIN_PASSWORD, RegdProcess, start_regd

ROOT = Path(__file__).resolve().parents[2]


def _regctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regctl", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("command", "line"),
    [
        (("login",), "  URL  The server"),
        (("do",), "  WORD  WORD... ACTION"),
    ],
)
def test_help_shows_metavars_not_python_types(command: tuple[str, ...], line: str) -> None:
    shown = _regctl(*command, "--help").stdout
    assert line in shown
    assert "<str>" not in shown
    assert "list[str]" not in shown
    assert "{" not in shown.splitlines()[0]  # usage: regctl login [OPTIONS] URL


@pytest.fixture(scope="module")
def regd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    server = start_regd(tmp_path_factory.mktemp("first-hour"))
    yield server
    assert server.stop() == 0


def _as_admin(regd: RegdProcess, tmp_path: Path) -> dict[str, str]:
    return {
        "REGCTL_SERVER": regd.url,
        "REGCTL_USERNAME": "admin",
        "REGCTL_PASSWORD": ADMIN_PASSWORD,
        "REGCTL_CONFIG": str(tmp_path / "regctl.yaml"),
    }


@pytest.mark.parametrize(
    ("args", "message", "status"),
    [
        (("list", "userz"), "regd has no GET /api/v1/userz; did you mean GET /api/v1/users?", 3),
        (
            ("show", "strongbox", "vaultz"),
            "regd has no GET /api/v1/strongbox/vaultz; did you mean GET /api/v1/strongbox/vaults?",
            3,
        ),
        (
            ("do", "api-clients", "cli-abcde", "reset-secrett"),
            "regd has no POST /api/v1/api-clients/cli-abcde/reset-secrett; did you mean POST "
            "/api/v1/api-clients/cli-abcde/reset-secret?",
            3,
        ),
    ],
)
def test_an_unknown_path_names_the_nearest(
    regd: RegdProcess, tmp_path: Path, args: tuple[str, ...], message: str, status: int
) -> None:
    done = _regctl(*args, env=_as_admin(regd, tmp_path))
    assert done.returncode == status
    assert done.stderr.splitlines()[0] == f"regctl: error: {message}"


def test_a_missing_object_keeps_the_servers_answer(regd: RegdProcess, tmp_path: Path) -> None:
    done = _regctl("show", "users", "bob", env=_as_admin(regd, tmp_path))
    assert done.returncode == 3
    assert done.stderr.splitlines()[0] == "regctl: error: 404 Not Found: no user 'bob'"


def test_https_against_plain_http_says_so(regd: RegdProcess, tmp_path: Path) -> None:
    https = regd.url.replace("http://", "https://")
    done = subprocess.run(
        [sys.executable, "-m", "regctl", "login", https, "-u", "admin", "--password-stdin"],
        env={**os.environ, "REGCTL_CONFIG": str(tmp_path / "c.yaml")},
        input=ADMIN_PASSWORD,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 5
    first, hint = done.stderr.splitlines()[:2]
    assert first.startswith(f"regctl: error: {regd.host} speaks plain HTTP, not HTTPS")
    serve = "serve HTTPS (regd serve --tls-cert FILE --tls-key FILE)"
    assert hint == f"regctl: hint: use {regd.url}, or {serve}"
    assert "is 'regd serve' running" not in done.stderr


def test_pip_install_ships_man_pages_and_completions(tmp_path: Path) -> None:
    """The wheel carries them as data files; installed under a prefix, ``man`` finds them
    through PATH (man-db looks beside each bin directory)."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("regd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in (
        "share/man/man1/regctl.1",
        "share/man/man8/regd.8",
        "share/bash-completion/completions/regctl.bash",
        "share/zsh/site-functions/regctl.zsh",
        "share/fish/vendor_completions.d/regctl.fish",
    ):
        assert any(name.endswith(".data/data/" + shipped) for name in names), shipped
    prefix = tmp_path / "prefix"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--ignore-installed",  # else pip uninstalls the regd this test runs from
            "--prefix",
            str(prefix),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    if shutil.which("man") is None:
        pytest.fail("man is not installed (scripts/install-test-deps installs man-db)")
    env = {**os.environ, "PATH": f"{prefix / 'bin'}:/usr/bin:/bin", "MANPATH": ""}
    env.pop("MANPATH")
    for page in (["regctl"], ["8", "regd"]):
        found = subprocess.run(
            ["man", "-w", *page], env=env, capture_output=True, text=True, check=False
        )
        assert found.stdout.strip() == str(
            prefix / "share" / "man" / ("man1/regctl.1" if page == ["regctl"] else "man8/regd.8")
        ), found.stderr
