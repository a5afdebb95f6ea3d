"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl on a free loopback port.

The cluster lives in a temporary directory and is stopped (and deleted) at the end of
the session. PostgreSQL refuses to run as root: as root (CI), the cluster runs as the
``postgres`` user (or ``nobody``) through ``runuser``, in a directory that user owns.

Missing PostgreSQL binaries skip the tests that need them, unless ``REGD_E2E_REQUIRED=1``
(CI, where ``scripts/install-test-deps`` installs the ``postgresql`` package) turns the
skip into a failure.

Use the fixtures ``postgres_cluster`` (session) and ``postgres_url`` (a fresh database per
module) by importing them into a test module::

    from tests.support.postgres import postgres_cluster_fixture, postgres_url_fixture
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import e2e_required

#: The superuser of the throwaway cluster (trust authentication on loopback only).
SUPERUSER = "regd"
START_TIMEOUT = 60


def find_bindir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: on PATH, or Debian's versioned one."""
    initdb = shutil.which("initdb")
    if initdb is not None and shutil.which("pg_ctl") is not None:
        return Path(initdb).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged user to run PostgreSQL as, when this process is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists")


@dataclass
class PostgresCluster:
    """A running cluster: ``database_url()`` makes a fresh database on it."""

    bindir: Path
    root: Path
    port: int
    user: pwd.struct_passwd | None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def _command(self, *args: str) -> list[str]:
        if self.user is None:
            return list(args)
        return ["runuser", "-u", self.user.pw_name, "--", *args]

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self._command(*args),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "--pgdata",
            str(self.datadir),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C.UTF-8",
            "--no-sync",
        )
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.root}",
                "-c max_connections=300",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c shared_buffers=32MB",
            ]
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "--pgdata",
            str(self.datadir),
            "--log",
            str(self.root / "postgres.log"),
            "--options",
            options,
            "--wait",
            f"--timeout={START_TIMEOUT}",
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(
                str(self.bindir / "pg_ctl"), "--pgdata", str(self.datadir), "-m", "fast", "stop"
            )

    @property
    def log(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def database_url(self, prefix: str = "regd") -> str:
        """A new, empty database, as a ``postgresql+asyncpg://`` URL.

        Its default collation is ICU's ``en-US`` when PostgreSQL has ICU (unlike code-point
        order, it sorts ``a`` before ``B``), so ordering that relied on the database's
        collation would show.
        """
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        asyncio.run(self._create_database(name))
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    async def _create_database(self, name: str) -> None:
        import asyncpg  # the postgres extra; part of regd[test]

        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, database="postgres"
        )
        try:
            try:
                await connection.execute(
                    f'CREATE DATABASE "{name}" TEMPLATE template0 '
                    "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                )
            except asyncpg.PostgresError:  # built without ICU
                await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    async def query(self, url: str, sql: str) -> list[tuple[object, ...]]:
        """Rows of ``sql`` run on the database of ``url`` (for assertions on state)."""
        import asyncpg

        database = url.rsplit("/", 1)[1]
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, database=database
        )
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    """Start a cluster in a new temporary directory; stop and delete it on exit."""
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError("initdb/pg_ctl not found")
    user = _run_as()
    # Not under pytest's 0700 temp tree: the postgres user must reach its directory.
    root = Path(tempfile.mkdtemp(prefix="regd-postgres-"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    root.chmod(0o700)
    cluster = PostgresCluster(bindir, root, _free_port(), user)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", name="postgres_cluster")
def postgres_cluster_fixture() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster for the session; skipped (or failed under
    ``REGD_E2E_REQUIRED=1``) when PostgreSQL is not installed."""
    if find_bindir() is None:
        reason = "PostgreSQL (initdb, pg_ctl) is not installed"
        if e2e_required():
            pytest.fail(f"{reason} (REGD_E2E_REQUIRED=1)")
        pytest.skip(reason)
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        reason = "asyncpg is not installed (pip install -e '.[test]')"
        if e2e_required():
            pytest.fail(f"{reason} (REGD_E2E_REQUIRED=1)")
        pytest.skip(reason)
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module", name="postgres_url")
def postgres_url_fixture(postgres_cluster: PostgresCluster) -> str:
    """A fresh database for the test module."""
    return postgres_cluster.database_url()
