"""The object store fails mid-upload (503s from a fault-injecting proxy in front of Swift,
for the native and the S3 API): the client gets OCI ``UNAVAILABLE``, nothing half-stored
becomes visible, and the next try succeeds."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.oci import assert_oci_error, digest_of, start_upload, upload_range
from tests.support.server import RegdProcess
from tests.support.swift import REGION, SwiftServer, regd_on_object_storage, swift_server_fixture
from tests.support.upstreams import FaultyProxy

__all__ = ["swift_server_fixture"]

MiB = 1 << 20


@pytest.fixture(params=["swift", "s3"])
def faulty(
    request: pytest.FixtureRequest, swift_server: SwiftServer, tmp_path: Path
) -> Iterator[tuple[RegdProcess, FaultyProxy]]:
    proxy = FaultyProxy(swift_server.endpoint, preserve_host=True).start()
    driver = str(request.param)
    if driver == "swift":
        server = regd_on_object_storage(
            swift_server,
            driver,
            tmp_path / "data",
            env={"ST_AUTH": f"{proxy.url}/auth/v1.0"},
        )
    else:
        url = f"s3://faults-{os.getpid()}-{id(proxy) % 10000}?endpoint={proxy.url}&region={REGION}"
        server = regd_on_object_storage(swift_server, driver, tmp_path / "data", url=url)
    try:
        yield server, proxy
    finally:
        proxy.stop()
        assert server.stop() == 0, server.log
    assert "Traceback" not in server.log, server.log


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
