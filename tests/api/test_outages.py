"""Failures are told apart: a database outage while checking credentials reads as an
outage (503, one log line), never as wrong credentials (401); it passes once the database
is back. A throwaway PostgreSQL cluster (tests/support/postgres.py) whose database is
made to refuse connections stands in for the outage."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.identities import assert_problem, create_user
from tests.support.oci import assert_oci_error, basic_auth
from tests.support.postgres import PostgresCluster, postgres_cluster_fixture
from tests.support.server import RegdProcess, start_regd

__all__ = ["postgres_cluster_fixture"]  # used by name
pytestmark = pytest.mark.timeout(120)


async def _superuser(cluster: PostgresCluster, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        host="127.0.0.1", port=cluster.port, user="regd", database="postgres"
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture
def on_postgres(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> Iterator[tuple[RegdProcess, str]]:
    url = postgres_cluster.database_url("outage")
    server = start_regd(tmp_path / "data", env={"REGD_DATABASE_URL": url})
    yield server, url.rsplit("/", 1)[1]
    server.stop()


def test_a_database_outage_while_checking_credentials_is_503(
    postgres_cluster: PostgresCluster, on_postgres: tuple[RegdProcess, str]
) -> None:
    server, database = on_postgres
    with server.client() as admin:
        create_user(admin, "outage-user", "outage-password-1")
    credentials = basic_auth("outage-user", "outage-password-1")  # never checked yet: no cache
    asyncio.run(
        _superuser(
            postgres_cluster,
            f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false; '
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'",
        )
    )
    try:
        with server.client(auth=None) as http:
            v2 = http.get("/v2/", headers={"Authorization": credentials})
            assert_oci_error(v2, 503, "UNAVAILABLE")
            api = http.get("/api/v1/users/outage-user", headers={"Authorization": credentials})
            problem = assert_problem(api, 503)
            assert "request id" in problem["detail"]
    finally:
        asyncio.run(
            _superuser(postgres_cluster, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        )
    outage_lines = [line for line in server.log.splitlines() if "unavailable [request" in line]
    assert outage_lines, server.log
    assert "Traceback" not in server.log
    assert "outage-password-1" not in server.log
    with server.client(auth=None) as http:  # back: the same credentials pass
        assert http.get("/v2/", headers={"Authorization": credentials}).status_code == 200
