"""The object store fails mid-upload (503s, or no answer at all, from a fault-injecting
proxy in front of Swift, for the native and the S3 API): the client gets OCI
``UNAVAILABLE``, nothing half-stored becomes visible, and the next try succeeds."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.oci import assert_oci_error, digest_of, start_upload, upload_range
from tests.support.server import RegdProcess
from tests.support.swift import REGION, SwiftServer, regd_on_object_storage, swift_server_fixture
from tests.support.upstreams import FaultyProxy
from tests.support.waiting import wait_until

__all__ = ["swift_server_fixture"]

MiB = 1 << 20
#: The storage URL's ``timeout=`` of the hanging-store tests (seconds).
TIMEOUT = 2


def _regd_behind(
    proxy: FaultyProxy, driver: str, swift_server: SwiftServer, data_dir: Path, query: str = ""
) -> RegdProcess:
    """regd on ``driver`` with every object-store request going through ``proxy``."""
    if driver == "swift":
        url = swift_server.swift_url() + (f"?{query}" if query else "")
        env = {"ST_AUTH": f"{proxy.url}/auth/v1.0"}
        return regd_on_object_storage(swift_server, driver, data_dir, url=url, env=env)
    bucket = f"faults-{os.getpid()}-{id(proxy) % 10000}"
    url = f"s3://{bucket}?endpoint={proxy.url}&region={REGION}" + (f"&{query}" if query else "")
    return regd_on_object_storage(swift_server, driver, data_dir, url=url)


@contextlib.contextmanager
def _faulty(
    driver: str, swift_server: SwiftServer, data_dir: Path, query: str = ""
) -> Iterator[tuple[RegdProcess, FaultyProxy]]:
    proxy = FaultyProxy(swift_server.endpoint, preserve_host=True).start()
    server = _regd_behind(proxy, driver, swift_server, data_dir, query)
    try:
        yield server, proxy
    finally:
        proxy.stop()
        assert server.stop() == 0, server.log
    assert "Traceback" not in server.log, server.log


@pytest.fixture(params=["swift", "s3"])
def faulty(
    request: pytest.FixtureRequest, swift_server: SwiftServer, tmp_path: Path
) -> Iterator[tuple[RegdProcess, FaultyProxy]]:
    with _faulty(str(request.param), swift_server, tmp_path / "data") as both:
        yield both


@pytest.fixture(params=["swift", "s3"])
def hanging(
    request: pytest.FixtureRequest, swift_server: SwiftServer, tmp_path: Path
) -> Iterator[tuple[RegdProcess, FaultyProxy]]:
    """Like ``faulty``, with a short ``timeout=`` in the storage URL."""
    with _faulty(str(request.param), swift_server, tmp_path / "data", f"timeout={TIMEOUT}") as both:
        yield both


def _patch(http: httpx.Client, location: str, chunk: bytes, start: int) -> httpx.Response:
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Range": f"{start}-{start + len(chunk) - 1}",
    }
    return http.patch(location, content=chunk, headers=headers)


def test_a_503_mid_chunked_upload_is_unavailable_and_the_retry_succeeds(
    faulty: tuple[RegdProcess, FaultyProxy],
) -> None:
    server, proxy = faulty
    data = os.urandom(12 * MiB + 321)
    digest = digest_of(data)
    with server.client() as http:
        session = start_upload(http, "faults/app")
        first = _patch(http, session.location, data[: 9 * MiB], 0)
        assert first.status_code == 202, first.text
        proxy.fault = 503
        failed = _patch(http, first.headers["Location"], data[9 * MiB :], 9 * MiB)
        assert_oci_error(failed, 503, "UNAVAILABLE")
        assert_oci_error(http.put(session.location, params={"digest": digest}), 503, "UNAVAILABLE")
        proxy.fault = None
        # Nothing half-stored is visible.
        assert http.head(f"/v2/faults/app/blobs/{digest}").status_code == 404
        # The client asks where to go on, and finishes.
        status = http.get(session.location)
        assert status.status_code == 204, status.text
        stored = upload_range(status)
        assert 0 < stored <= 9 * MiB
        resumed = _patch(http, status.headers["Location"], data[stored:], stored)
        assert resumed.status_code == 202, resumed.text
        done = http.put(resumed.headers["Location"], params={"digest": digest})
        assert done.status_code == 201, done.text
        got = http.get(f"/v2/faults/app/blobs/{digest}")
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == digest.removeprefix("sha256:")


def test_a_503_on_a_monolithic_push_leaves_nothing_and_the_retry_succeeds(
    faulty: tuple[RegdProcess, FaultyProxy],
) -> None:
    server, proxy = faulty
    data = os.urandom(3 * MiB)
    digest = digest_of(data)
    with server.client() as http:
        proxy.fault = 503
        failed = http.post(
            "/v2/faults/mono/blobs/uploads/", params={"digest": digest}, content=data
        )
        assert_oci_error(failed, 503, "UNAVAILABLE")
        proxy.fault = None
        assert http.head(f"/v2/faults/mono/blobs/{digest}").status_code == 404
        pushed = http.post(
            "/v2/faults/mono/blobs/uploads/", params={"digest": digest}, content=data
        )
        assert pushed.status_code == 201, pushed.text
        assert http.get(f"/v2/faults/mono/blobs/{digest}").content == data


def test_a_failing_store_on_blob_get_is_unavailable_not_a_broken_body(
    faulty: tuple[RegdProcess, FaultyProxy],
) -> None:
    server, proxy = faulty
    data = os.urandom(MiB)
    digest = digest_of(data)
    with server.client() as http:
        assert (
            http.post(
                "/v2/faults/get/blobs/uploads/", params={"digest": digest}, content=data
            ).status_code
            == 201
        )
        proxy.fault = 503
        assert_oci_error(http.get(f"/v2/faults/get/blobs/{digest}"), 503, "UNAVAILABLE")
        proxy.fault = None
        assert http.get(f"/v2/faults/get/blobs/{digest}").content == data


@pytest.mark.parametrize("driver", ["swift", "s3"])
def test_a_full_container_is_unavailable_and_the_push_succeeds_once_there_is_room(
    driver: str, swift_server: SwiftServer, tmp_path: Path
) -> None:
    container = f"quota-{driver}-{os.getpid()}"
    url = swift_server.swift_url(container) if driver == "swift" else swift_server.s3_url(container)
    server = regd_on_object_storage(swift_server, driver, tmp_path / "data", url=url)
    data = os.urandom(3 * MiB)
    digest = digest_of(data)
    try:
        swift_server.set_quota(container, MiB)
        with server.client() as http:
            full = http.post(
                "/v2/quota/app/blobs/uploads/", params={"digest": digest}, content=data
            )
            assert_oci_error(full, 503, "UNAVAILABLE")
            assert http.head(f"/v2/quota/app/blobs/{digest}").status_code == 404
            swift_server.set_quota(container, None)
            pushed = http.post(
                "/v2/quota/app/blobs/uploads/", params={"digest": digest}, content=data
            )
            assert pushed.status_code == 201, pushed.text
            assert http.get(f"/v2/quota/app/blobs/{digest}").content == data
    finally:
        assert server.stop() == 0, server.log
    assert "Traceback" not in server.log


def test_a_store_that_stops_answering_mid_upload_is_unavailable_within_the_timeout(
    hanging: tuple[RegdProcess, FaultyProxy],
) -> None:
    """A store that hangs (accepts the connection, never answers): every request has a
    bound (``timeout=`` in the storage URL), so the client gets UNAVAILABLE in bounded
    time, not a hung request; nothing is visible; the upload continues once it answers."""
    server, proxy = hanging
    data = os.urandom(12 * MiB + 77)
    digest = digest_of(data)
    with server.client() as http:
        session = start_upload(http, "hang/app")
        first = _patch(http, session.location, data[: 9 * MiB], 0)
        assert first.status_code == 202, first.text
        proxy.hang()
        started = time.monotonic()
        failed = _patch(http, first.headers["Location"], data[9 * MiB :], 9 * MiB)
        assert_oci_error(failed, 503, "UNAVAILABLE")
        commit = http.put(session.location, params={"digest": digest})
        assert_oci_error(commit, 503, "UNAVAILABLE")
        # Two requests, each given up after the timeout (S3: retries within the same bound).
        assert time.monotonic() - started < 4 * TIMEOUT + 10
        proxy.unhang()
        assert http.head(f"/v2/hang/app/blobs/{digest}").status_code == 404
        status = http.get(session.location)
        assert status.status_code == 204, status.text
        stored = upload_range(status)
        assert 0 < stored <= 9 * MiB
        resumed = _patch(http, status.headers["Location"], data[stored:], stored)
        assert resumed.status_code == 202, resumed.text
        done = http.put(resumed.headers["Location"], params={"digest": digest})
        assert done.status_code == 201, done.text
        got = http.get(f"/v2/hang/app/blobs/{digest}")
        assert hashlib.sha256(got.content).hexdigest() == digest.removeprefix("sha256:")


def test_a_monolithic_push_to_a_hanging_store_leaves_nothing_and_the_retry_succeeds(
    hanging: tuple[RegdProcess, FaultyProxy],
) -> None:
    server, proxy = hanging
    data = os.urandom(10 * MiB)
    digest = digest_of(data)
    with server.client() as http:
        proxy.hang()
        failed = http.post("/v2/hang/mono/blobs/uploads/", params={"digest": digest}, content=data)
        assert_oci_error(failed, 503, "UNAVAILABLE")
        proxy.unhang()
        assert http.head(f"/v2/hang/mono/blobs/{digest}").status_code == 404
        pushed = http.post("/v2/hang/mono/blobs/uploads/", params={"digest": digest}, content=data)
        assert pushed.status_code == 201, pushed.text
        assert http.get(f"/v2/hang/mono/blobs/{digest}").content == data


@pytest.mark.parametrize("driver", ["swift", "s3"])
def test_a_commit_waiting_on_the_store_does_not_hold_the_database_writer(
    driver: str, swift_server: SwiftServer, tmp_path: Path
) -> None:
    """The object-store requests of a commit (its fresh mark, its look at the blob) are made
    outside the digest's lock, which with SQLite is the database's one writer lock: while
    the store does not answer the commit, other writes go on."""
    data = os.urandom(MiB)
    digest = digest_of(data)
    with _faulty(driver, swift_server, tmp_path / "data", "timeout=30") as (server, proxy):
        proxy.hang(only="/fresh/")
        outcome: list[httpx.Response] = []

        def push() -> None:
            with server.client() as http:
                url = "/v2/locks/app/blobs/uploads/"
                outcome.append(http.post(url, params={"digest": digest}, content=data))

        pusher = threading.Thread(target=push)
        pusher.start()
        try:
            wait_until(lambda: any("/fresh/" in r.path for r in proxy.requests()), 30, "the commit")
            started = time.monotonic()
            with server.client() as http:
                session = start_upload(http, "locks/other")  # a database write
                assert session.location
            # Not after the commit gave up on the store (30 s): while it waits.
            assert time.monotonic() - started < 15
            assert pusher.is_alive()
        finally:
            proxy.unhang()
            pusher.join(60)
        with server.client() as http:
            if outcome[0].status_code != 201:  # S3 retries the 504 the store gives at last
                assert_oci_error(outcome[0], 503, "UNAVAILABLE")
                assert http.head(f"/v2/locks/app/blobs/{digest}").status_code == 404
                pushed = http.post(
                    "/v2/locks/app/blobs/uploads/", params={"digest": digest}, content=data
                )
                assert pushed.status_code == 201, pushed.text
            assert http.get(f"/v2/locks/app/blobs/{digest}").content == data
