"""The pull-through cache's ``cache-size-cap``: LRU eviction, re-fetch, and what never goes.

A second regd is the upstream (token auth, its access log on); the regd under test (the
mirror) pulls blobs through from it by digest. Upstream blob GETs are counted in the
upstream's access log, synchronised with a marker request of our own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.access_log import logged_request
from tests.support.oci import blob_path, push_blob
from tests.support.server import RegdProcess, add_regd_remote, start_regd
from tests.support.waiting import wait_until

_SYNC = "regd-test-sync"
SIZE = 64 * 1024


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    server = start_regd(tmp_path_factory.mktemp("upstream"), "--access-log")
    yield server
    assert server.stop() == 0, server.log


@pytest.fixture
def mirror(tmp_path: Path, upstream: RegdProcess) -> Iterator[Mirror]:
    server = start_regd(tmp_path / "mirror")
    try:
        with server.client() as http:
            yield Mirror(server, upstream, add_regd_remote(http, upstream))
    finally:
        assert server.stop() == 0, server.log
    assert "Traceback" not in server.log, server.log


class Mirror:
    def __init__(self, regd: RegdProcess, upstream: RegdProcess, alias: str) -> None:
        self.regd = regd
        self.upstream = upstream
        self.alias = alias

    def seed(self, path: str, count: int, size: int = SIZE) -> list[tuple[str, bytes]]:
        """Push ``count`` random blobs to the upstream's ``path``."""
        blobs = [os.urandom(size) for _ in range(count)]
        with self.upstream.client() as http:
            return [(push_blob(http, path, blob), blob) for blob in blobs]

    def upstream_gets(self, digest: str) -> int:
        """GETs of blob ``digest`` the upstream has answered (all of them logged)."""
        marker = uuid.uuid4().hex
        httpx.get(f"{self.upstream.url}/v2/", params={_SYNC: marker}, timeout=10)
        wait_until(lambda: marker in self.upstream.log, 30, "the upstream to log our marker")
        count = 0
        for line in list(self.upstream.log_lines):
            logged = logged_request(line)
            if (
                logged
                and (logged.method, logged.status) == ("GET", 200)
                and logged.url.path.endswith(f"/blobs/{digest}")
            ):
                count += 1
        return count

    def stored(self, digest: str) -> bool:
        return blob_path(self.regd.data_dir, digest).exists()

    def pull(self, http: httpx.Client, path: str, digest: str, expected: bytes) -> None:
        response = http.get(f"/v2/{self.alias}/{path}/blobs/{digest}")
        assert response.status_code == 200, response.text
        assert response.content == expected


def _cap(http: httpx.Client, cap: int | None) -> None:
    response = http.patch("/api/v1/image-registry/settings", json={"cache-size-cap": cap})
    assert response.status_code == 200, response.text


def _usage(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/api/v1/image-registry/cache")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_least_recently_read_blob_is_evicted_and_fetched_again(mirror: Mirror) -> None:
    (a, a_data), (b, b_data), (c, c_data) = mirror.seed("team/lru", 3)
    with mirror.regd.client() as http:  # one keep-alive connection throughout
        _cap(http, 2 * SIZE + SIZE // 2)
        mirror.pull(http, "team/lru", a, a_data)
        mirror.pull(http, "team/lru", b, b_data)
        assert _usage(http) == {"size": 2 * SIZE, "cap": 2 * SIZE + SIZE // 2, "blobs": 2}
        mirror.pull(http, "team/lru", a, a_data)  # warm: a is now read more recently than b
        assert mirror.upstream_gets(a) == 1

        mirror.pull(http, "team/lru", c, c_data)  # over the cap: b, read least recently, goes
        assert _usage(http) == {"size": 2 * SIZE, "cap": 2 * SIZE + SIZE // 2, "blobs": 2}
        assert not mirror.stored(b)
        assert mirror.stored(a)
        assert mirror.stored(c)
        assert mirror.upstream_gets(b) == 1

        # b again: transparently from the upstream once more.
        head = http.head(f"/v2/{mirror.alias}/team/lru/blobs/{b}")
        assert head.status_code == 200
        assert head.headers["Content-Length"] == str(SIZE)
        mirror.pull(http, "team/lru", b, b_data)
        assert mirror.upstream_gets(b) == 2
        assert mirror.upstream_gets(c) == 1
        assert _usage(http)["size"] <= 2 * SIZE + SIZE // 2


def test_a_blob_whose_bytes_vanished_is_fetched_again(mirror: Mirror) -> None:
    """A linked cached blob with no bytes (collected by another process) is not an error."""
    [(digest, data)] = mirror.seed("team/vanished", 1)
    with mirror.regd.client() as http:
        mirror.pull(http, "team/vanished", digest, data)
        assert _usage(http)["blobs"] == 1  # the next request: the fetch is committed by now
        blob_path(mirror.regd.data_dir, digest).unlink()
        mirror.pull(http, "team/vanished", digest, data)
        assert mirror.upstream_gets(digest) == 2
        assert mirror.stored(digest)


def test_a_blob_a_local_repository_links_is_never_counted_nor_evicted(mirror: Mirror) -> None:
    [(shared, shared_data)] = mirror.seed("team/shared", 1)
    (first, first_data), (second, second_data) = mirror.seed("team/other", 2)
    with mirror.regd.client() as http:
        assert push_blob(http, "local/app", shared_data) == shared
        mirror.pull(http, "team/shared", shared, shared_data)
        assert mirror.upstream_gets(shared) == 1
        assert _usage(http) == {"size": 0, "cap": None, "blobs": 0}

        _cap(http, 0)
        mirror.pull(http, "team/other", first, first_data)
        mirror.pull(http, "team/other", second, second_data)  # evicts first, never shared
        assert _usage(http) == {"size": SIZE, "cap": 0, "blobs": 1}
        assert not mirror.stored(first)
        assert mirror.stored(second)  # the newest stays, however small the cap
        assert mirror.stored(shared)
        mirror.pull(http, "team/shared", shared, shared_data)
        assert mirror.upstream_gets(shared) == 1
        assert http.get(f"/v2/local/app/blobs/{shared}").content == shared_data


def test_no_cap_means_no_eviction(mirror: Mirror) -> None:
    blobs = mirror.seed("team/unlimited", 4)
    with mirror.regd.client() as http:
        assert _usage(http) == {"size": 0, "cap": None, "blobs": 0}
        for digest, data in blobs:
            mirror.pull(http, "team/unlimited", digest, data)
        for digest, data in blobs:  # warm, all of them
            mirror.pull(http, "team/unlimited", digest, data)
        assert _usage(http) == {"size": 4 * SIZE, "cap": None, "blobs": 4}
        for digest, _data in blobs:
            assert mirror.stored(digest)
            assert mirror.upstream_gets(digest) == 1
        # The same blob in two cached repositories is counted once.
        with mirror.upstream.client() as up:
            push_blob(up, "team/unlimited-copy", blobs[0][1])
        mirror.pull(http, "team/unlimited-copy", blobs[0][0], blobs[0][1])
        assert _usage(http) == {"size": 4 * SIZE, "cap": None, "blobs": 4}
