#!/usr/bin/env python3
"""SQL statements per request of regd on PostgreSQL (what a read costs in round trips).

    .venv/bin/python bench/pg_statements.py

Starts a throwaway PostgreSQL cluster (tests/support/postgres.py) and one ``regd serve``
on a database that logs every statement (``log_statement = 'all'``), pushes a small
image, then sends 100 sequential requests of each kind with a registry token and counts
the statements the server log gained. Sequential requests share no batch: this is the
cost of one request alone (under load, several share one statement; regd/db/fresh.py).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from tests.support.oci import digest_of, push_image
from tests.support.postgres import PostgresCluster, running_cluster
from tests.support.server import start_regd

REQUESTS = 100
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _statements(cluster: PostgresCluster) -> int:
    log = cluster.log
    return log.count("execute ") + log.count("statement: ")


def main() -> int:
    with running_cluster() as cluster, tempfile.TemporaryDirectory() as folder:
        url = cluster.database_url("statements")
        database = url.rsplit("/", 1)[1]
        asyncio.run(cluster.query(url, f"ALTER DATABASE {database} SET log_statement = 'all'"))
        regd = start_regd(Path(folder), env={"REGD_DATABASE_URL": url})
        try:
            with regd.client() as admin:
                image = push_image(admin, "count/app", "1.0", seed="count")
                scope = "repository:count/app:pull"
                token = admin.get("/token", params={"service": "regd", "scope": scope})
                catalog = admin.get(
                    "/token", params={"service": "regd", "scope": "registry:catalog:*"}
                )
            layer = digest_of(image.layers[0])
            cases = [
                ("manifest GET by tag", "GET", "/v2/count/app/manifests/1.0", {"Accept": MANIFEST}),
                ("blob HEAD", "HEAD", f"/v2/count/app/blobs/{layer}", {}),
                ("Range GET", "GET", f"/v2/count/app/blobs/{layer}", {"Range": "bytes=0-9"}),
                ("tags list", "GET", "/v2/count/app/tags/list", {}),
                ("catalog", "GET", "/v2/_catalog", {}),
            ]
            bearer = {"Authorization": f"Bearer {token.json()['token']}"}
            with httpx.Client(base_url=regd.url, headers=bearer) as client:
                for label, method, path, headers in cases:
                    if label == "catalog":
                        client.headers["Authorization"] = f"Bearer {catalog.json()['token']}"
                    for _ in range(5):  # warm the caches
                        client.request(method, path, headers=headers)
                    time.sleep(0.5)
                    before = _statements(cluster)
                    for _ in range(REQUESTS):
                        answer = client.request(method, path, headers=headers)
                        assert answer.status_code in (200, 206), answer.text
                    time.sleep(0.5)  # the log is written by another process
                    per_request = (_statements(cluster) - before) / REQUESTS
                    print(f"| {label} | {per_request:.2f} |")
        finally:
            regd.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
