"""``regd move``: a filesystem + SQLite registry with images, a user and a Strongbox secret
is copied into object storage (Swift, native API) + PostgreSQL; a regd started on the
target serves every digest, tag, user and secret. Running the move again copies no blob
again (resumable) and keeps the target whole."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.identities import create_user
from tests.support.oci import OCI_MANIFEST, digest_of, push_blob, push_image
from tests.support.postgres import PostgresCluster, postgres_cluster_fixture
from tests.support.server import ADMIN_PASSWORD, start_regd
from tests.support.swift import SwiftServer, swift_server_fixture

__all__ = ["postgres_cluster_fixture", "swift_server_fixture"]

_REPORT = re.compile(r"regd move: (\d+) blob\(s\) copied \((\d+) bytes.*\), (\d+) already there")


def _move(data_dir: Path, swift: SwiftServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regd", "move", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **swift.swift_env()},
    )


def test_move_a_laptop_registry_into_swift_and_postgresql(
    swift_server: SwiftServer, postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    laptop = start_regd(data_dir)
    big = os.urandom(9 << 20)
    try:
        with laptop.client() as http:
            images = [push_image(http, f"move/app{n}", "1.0", seed=f"move-{n}") for n in range(3)]
            big_digest = push_blob(http, "move/app0", big)
            create_user(http, "mover", "mover-password-1")
            assert http.post("/api/v1/strongbox/vaults", json={"name": "mv"}).status_code == 201
            secret = {"name": "hub", "data": {"token": "moved-secret-value"}}
            assert http.post("/api/v1/strongbox/vaults/mv/secrets", json=secret).status_code == 201
    finally:
        assert laptop.stop() == 0, laptop.log

    container = "moved-registry"
    database_url = postgres_cluster.database_url("moved")
    target = ["--to-storage-url", f"swift://{container}", "--to-database-url", database_url]
    first = _move(data_dir, swift_server, *target)
    assert first.returncode == 0, first.stderr
    copied = _REPORT.search(first.stdout)
    assert copied, first.stdout
    blob_count = 3 * 3 + 1  # three images (config + two layers each) and the big blob
    assert (int(copied[1]), int(copied[3])) == (blob_count, 0)
    assert int(copied[2]) > len(big)
    again = _move(data_dir, swift_server, *target)
    assert again.returncode == 0, again.stderr
    rerun = _REPORT.search(again.stdout)
    assert rerun, again.stdout
    assert (int(rerun[1]), int(rerun[3])) == (0, blob_count)
    stored = swift_server.list_objects(container, "blobs/")
    assert len(stored) == blob_count

    # The moved registry: same data dir (keys), blobs in Swift, metadata in PostgreSQL.
    moved = start_regd(
        tmp_path / "data",
        "--storage-url",
        f"swift://{container}",
        env={**swift_server.swift_env(), "REGD_DATABASE_URL": database_url},
    )
    try:
        with moved.client() as http:
            for image in images:
                got = http.get(f"/v2/{image.name}/manifests/1.0", headers={"Accept": OCI_MANIFEST})
                assert got.status_code == 200, got.text
                assert got.content == image.manifest
                for blob in (image.config, *image.layers):
                    fetched = http.get(f"/v2/{image.name}/blobs/{digest_of(blob)}")
                    assert fetched.content == blob
            assert http.get(f"/v2/move/app0/blobs/{big_digest}").content == big
            shown = http.get("/api/v1/strongbox/vaults/mv/secrets/hub")
            assert shown.status_code == 200, shown.text
            assert shown.json()["data"] == {"token": "moved-secret-value"}
            # New rows after the move get fresh ids (sequences moved past the copied ones).
            assert push_image(http, "move/new", "1.0", seed="after").name == "move/new"
        mover = httpx.get(f"{moved.url}/v2/", auth=("mover", "mover-password-1"))
        assert mover.status_code == 200
        assert httpx.get(f"{moved.url}/v2/", auth=("admin", ADMIN_PASSWORD)).status_code == 200
    finally:
        assert moved.stop() == 0, moved.log
