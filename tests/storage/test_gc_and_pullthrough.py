"""Garbage collection racing pushes, and the pull-through cache, on object storage.

A regd on Swift (native) or S3 collects every 0.3 s (grace 10 s) while three clients push
images whose layers come from a small shared pool, and delete each previous repository:
blobs become garbage and are pushed again all the time. Every image pushed must stay
whole; the collector must have freed something. Then a pull-through mirror on object
storage serves an upstream's image and keeps it.
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.oci import digest_of, image_manifest, push_blob, push_manifest
from tests.support.server import RegdProcess, add_regd_remote, start_regd
from tests.support.swift import SwiftServer, regd_on_object_storage, swift_server_fixture
from tests.support.waiting import wait_until

__all__ = ["swift_server_fixture"]

POOL = [os.urandom(256 << 10) + bytes([n]) for n in range(4)]


def _push(http: httpx.Client, name: str, rng: random.Random) -> tuple[bytes, list[bytes]]:
    config = f'{{"seed": "{uuid.uuid4()}"}}'.encode()
    layers = [*rng.sample(POOL, 2), os.urandom(1024)]
    for blob in (config, *layers):
        push_blob(http, name, blob)
    response = push_manifest(http, name, "1.0", image_manifest(config, layers))
    assert response.status_code == 201, response.text
    return config, layers


def _whole(http: httpx.Client, name: str, blobs: list[bytes]) -> None:
    for blob in blobs:
        got = http.get(f"/v2/{name}/blobs/{digest_of(blob)}")
        assert got.status_code == 200, (name, got.text)
        assert got.content == blob


def _gc_runs(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("regd_gc_blobs_freed_total"):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.parametrize("driver", ["swift", "s3"])
def test_collection_racing_pushes_loses_nothing(
    driver: str, swift_server: SwiftServer, tmp_path: Path
) -> None:
    env = {"REGD_GC_INTERVAL": "0.3", "REGD_GC_GRACE": "10"}
    server = regd_on_object_storage(swift_server, driver, tmp_path / "data", env=env)
    kept: list[tuple[str, list[bytes]]] = []
    failures: list[BaseException] = []

    def pusher(index: int) -> None:
        rng = random.Random(index)
        previous: str | None = None
        try:
            with server.client() as http:
                for round_ in range(5):
                    name = f"race/p{index}-{round_}"
                    config, layers = _push(http, name, rng)
                    _whole(http, name, [config, *layers])
                    if previous is not None:
                        deleted = http.delete(f"/api/v1/repositories/{previous}")
                        assert deleted.status_code == 204, deleted.text
                    previous = name
                kept.append((name, [config, *layers]))
        except BaseException as error:
            failures.append(error)

    try:
        threads = [threading.Thread(target=pusher, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not failures, failures
        with server.client() as http:
            wait_until(lambda: _gc_runs(http) > 0, 60, "the collector to free a blob")
            for name, blobs in kept:
                _whole(http, name, blobs)
    finally:
        assert server.stop() == 0, server.log
    assert "Traceback" not in server.log, server.log


@pytest.mark.parametrize("driver", ["swift", "s3"])
def test_pull_through_cache_on_object_storage(
    driver: str, swift_server: SwiftServer, tmp_path: Path
) -> None:
    """A mirror on object storage fetches an upstream's image once, stores it in the
    container, and serves it from there after the upstream went away."""
    upstream = start_regd(tmp_path / "upstream")
    container = f"mirror-{uuid.uuid4().hex[:8]}"
    url = swift_server.swift_url(container) if driver == "swift" else swift_server.s3_url(container)
    mirror: RegdProcess = regd_on_object_storage(swift_server, driver, tmp_path / "mirror", url=url)
    big = random.Random(driver).randbytes(20 << 20)
    try:
        with upstream.client() as up:
            big_digest = push_blob(up, "team/app", big)
            config = b'{"os": "linux"}'
            push_blob(up, "team/app", config)
            manifest = image_manifest(config, [big])
            assert push_manifest(up, "team/app", "1.0", manifest).status_code == 201
        with mirror.client() as http:
            alias = add_regd_remote(http, upstream)
            got = http.get(
                f"/v2/{alias}/team/app/manifests/1.0",
                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
            )
            assert got.status_code == 200, got.text
            assert got.content == manifest
            blob = http.get(f"/v2/{alias}/team/app/blobs/{big_digest}")
            assert blob.status_code == 200
            assert digest_of(blob.content) == big_digest
            stored = f"blobs/sha256/{big_digest.removeprefix('sha256:')}"
            wait_until(
                lambda: stored in swift_server.list_objects(container), 30, "the cached blob"
            )
            assert upstream.stop() == 0
            again = http.get(f"/v2/{alias}/team/app/blobs/{big_digest}")
            assert again.status_code == 200
            assert again.content == big
            ranged = http.get(
                f"/v2/{alias}/team/app/blobs/{big_digest}", headers={"Range": "bytes=100-199"}
            )
            assert ranged.status_code == 206
            assert ranged.content == big[100:200]
    finally:
        upstream.stop()
        assert mirror.stop() == 0, mirror.log
    assert "Traceback" not in mirror.log, mirror.log
