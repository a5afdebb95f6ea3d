"""``regd`` at start-up, as an operator meets it: every failure one line naming the setting and
the fix, exit status 1 (2 for a setting regd cannot parse), the traceback only with --debug;
the admin password that is ignored says so, and ``regd admin reset-password`` resets it."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server import ADMIN_PASSWORD, start_regd


def _regd(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regd", *args],
        env={**os.environ, "REGD_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _serve(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return _regd(
        "serve", "--addr", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), *args, env=env
    )


@pytest.mark.parametrize(
    ("env", "says", "status"),
    [
        ({"REGD_ADMIN_PASSWORD": "short"}, "REGD_ADMIN_PASSWORD: a password needs at least 8", 1),
        ({"REGD_DATABASE_URL": "mysql://db/regd"}, "database_url: unsupported database 'mysql'", 1),
        (
            {"REGD_MASTER_KEY": "not-a-key"},
            "REGD_MASTER_KEY: a master key is 32 bytes in base64",
            1,
        ),
        ({"REGD_UPLOAD_TTL": "1 hour"}, "REGD_UPLOAD_TTL: invalid duration '1 hour'", 2),
        ({"REGD_ADDR": "localhost"}, "addr: invalid address 'localhost'", 2),
    ],
)
def test_a_bad_setting_is_one_line(
    tmp_path: Path, env: dict[str, str], says: str, status: int
) -> None:
    done = (
        _serve(tmp_path, env=env)
        if "REGD_ADDR" not in env
        else _regd("serve", "--data-dir", str(tmp_path / "data"), env=env)
    )
    assert done.returncode == status
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"regd: {says}"), done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_master_key_creates_nothing(tmp_path: Path) -> None:
    assert _serve(tmp_path, env={"REGD_MASTER_KEY": "bad"}).returncode == 1
    assert not list((tmp_path / "data").glob("keys/*"))  # no master key, no signing key
    regd = start_regd(tmp_path / "data")
    try:
        with regd.client() as http:
            assert http.get("/api/v1/users").status_code == 200  # admin is the env's password
    finally:
        regd.stop()


def test_a_master_key_other_than_the_databases_is_one_line(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    first = start_regd(tmp_path / "data", env={"REGD_MASTER_KEY": key})
    first.stop()
    wrong = base64.b64encode(os.urandom(32)).decode()
    for env in ({"REGD_MASTER_KEY": wrong}, {}):  # another key; none (a key file would be made)
        done = _serve(tmp_path, env=env)
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("regd: master key: "), done.stderr
        assert "REGD_MASTER_KEY" in done.stderr
        assert "Traceback" not in done.stderr
        assert key not in done.stderr
        assert wrong not in done.stderr
    assert not list((tmp_path / "data").glob("keys/*"))


def test_postgresql_without_the_extra(tmp_path: Path) -> None:
    """asyncpg is hidden by a package of that name that fails to import, as a missing one does."""
    hide = tmp_path / "hide" / "asyncpg"
    hide.mkdir(parents=True)
    (hide / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'asyncpg'\", name='asyncpg')\n"
    )
    env = {"REGD_DATABASE_URL": "postgresql://regd@db/regd", "PYTHONPATH": str(hide.parent)}
    done = _serve(tmp_path, env=env)
    assert done.returncode == 1
    assert done.stderr == (
        "regd: database_url: PostgreSQL needs the 'postgres' extra (asyncpg): pip install "
        "'regd[postgres]' (or use the default SQLite: unset REGD_DATABASE_URL)\n"
    )
    debug = _serve(tmp_path, "--debug", env=env)
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.endswith("unset REGD_DATABASE_URL)\n")


def test_a_busy_port_names_the_address(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _regd("serve", "--addr", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 1
    assert done.stderr == (
        f"regd: addr: cannot listen on 127.0.0.1:{port}: the address is in use (another regd?); "
        "pick another with --addr or REGD_ADDR\n"
    )


def test_unreadable_or_mismatched_tls_files(tmp_path: Path) -> None:
    missing = _serve(
        tmp_path, "--tls-cert", str(tmp_path / "nope.crt"), "--tls-key", str(tmp_path / "nope.key")
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith(
        f"regd: tls_cert: cannot read {tmp_path / 'nope.crt'}: No such file"
    )
    assert missing.stderr.count("\n") == 1
    assert (
        _regd("tls", "self-signed", "--host", "a.test", "--out", str(tmp_path / "a")).returncode
        == 0
    )
    assert (
        _regd("tls", "self-signed", "--host", "b.test", "--out", str(tmp_path / "b")).returncode
        == 0
    )
    mismatched = _serve(
        tmp_path,
        "--tls-cert",
        str(tmp_path / "a" / "server.crt"),
        "--tls-key",
        str(tmp_path / "b" / "server.key"),
    )
    assert mismatched.returncode == 1
    assert mismatched.stderr.count("\n") == 1
    assert "the key does not belong to the certificate" in mismatched.stderr


def test_an_ignored_admin_password_says_so_and_reset_password_resets(tmp_path: Path) -> None:
    first = start_regd(tmp_path / "data")
    assert first.stop() == 0
    again = start_regd(tmp_path / "data", env={"REGD_ADMIN_PASSWORD": "another-password"})
    try:
        assert (
            "user 'admin' exists; REGD_ADMIN_PASSWORD ignored "
            "(to change the password: regd admin reset-password)" in again.log
        )
        reset = _regd(
            "admin",
            "reset-password",
            "--password-stdin",
            "--data-dir",
            str(tmp_path / "data"),
            stdin="another-password\n",
        )
        assert reset.returncode == 0, reset.stderr
        with httpx.Client(base_url=again.url, auth=("admin", "another-password")) as http:
            assert http.get("/api/v1/users").status_code == 200
        generated = _regd("admin", "reset-password", "--data-dir", str(tmp_path / "data"))
        password = generated.stderr.split("the admin password is now ")[1].split()[0]
        with httpx.Client(base_url=again.url, auth=("admin", password)) as http:
            assert http.get("/api/v1/users").status_code == 200
        short = _regd(
            "admin",
            "reset-password",
            "--password-stdin",
            "--data-dir",
            str(tmp_path / "data"),
            stdin="x\n",
        )
        assert short.returncode == 1
        assert (
            short.stderr == "regd: admin reset-password: a password needs at least 8 characters\n"
        )
    finally:
        again.stop()
    # the right password: nothing said
    quiet = start_regd(tmp_path / "data", env={"REGD_ADMIN_PASSWORD": password})
    assert quiet.stop() == 0
    assert "ignored" not in quiet.log


def test_help_and_version_import_nothing_heavy() -> None:
    heavy = "{'aiohttp', 'sqlalchemy', 'alembic', 'cryptography'}"
    code = f"import sys, regd.cli; print(sorted({heavy} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"
