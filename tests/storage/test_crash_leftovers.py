"""regd killed (SIGKILL) mid-upload and mid-commit on object storage: at the next start
the staged parts, the upload's record and (S3) the multipart upload of the commit are
gone, nothing half-stored is visible, and the same push succeeds."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.oci import digest_of
from tests.support.server import RegdProcess
from tests.support.swift import REGION, SwiftServer, regd_on_object_storage, swift_server_fixture
from tests.support.upstreams import FaultyProxy
from tests.support.waiting import wait_until

__all__ = ["swift_server_fixture"]

MiB = 1 << 20
#: What a commit sends that joins the parts (Swift: the SLO manifest; S3: UploadPartCopy).
COMPOSE = {"swift": "multipart-manifest=put", "s3": "partNumber="}


def _container(driver: str) -> str:
    return f"crash-{driver}-{os.getpid()}-{os.urandom(3).hex()}"


def _regd(
    swift: SwiftServer, driver: str, data_dir: Path, container: str, via: str | None = None
) -> RegdProcess:
    """regd on ``container`` (through the proxy at ``via``), collecting with no grace."""
    env = {"REGD_GC_GRACE": "0"}
    if driver == "swift":
        if via is not None:
            env["ST_AUTH"] = f"{via}/auth/v1.0"
        return regd_on_object_storage(
            swift, driver, data_dir, url=swift.swift_url(container), env=env
        )
    url = f"s3://{container}?endpoint={via or swift.endpoint}&region={REGION}"
    return regd_on_object_storage(swift, driver, data_dir, url=url, env=env)


def _leftovers(swift: SwiftServer, container: str) -> list[str]:
    staged = [
        name
        for name in swift.list_objects(container)
        if name.startswith(("uploads/", "segments/", "blobs/", "fresh/"))
    ]
    return staged + swift.list_objects(f"{container}+segments")  # s3api's multipart parts


def _kill(server: RegdProcess) -> None:
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL


def _push_afterwards(server: RegdProcess, data: bytes) -> None:
    digest = digest_of(data)
    with server.client() as http:
        assert http.head(f"/v2/crash/app/blobs/{digest}").status_code == 404
        pushed = http.post("/v2/crash/app/blobs/uploads/", params={"digest": digest}, content=data)
        assert pushed.status_code == 201, pushed.text
        assert http.get(f"/v2/crash/app/blobs/{digest}").content == data


@pytest.mark.parametrize("driver", ["swift", "s3"])
def test_killed_mid_upload_leaves_nothing_after_the_restart(
    driver: str, swift_server: SwiftServer, tmp_path: Path
) -> None:
    container = _container(driver)
    data = os.urandom(20 * MiB)
    server = _regd(swift_server, driver, tmp_path / "data", container)
    more = threading.Event()

    def body() -> Iterator[bytes]:
        yield data[: 17 * MiB]  # two parts stored, the rest held
        more.wait(60)
        yield data[17 * MiB :]

    def push() -> None:
        with server.client() as http, pytest.raises(httpx.HTTPError):
            http.post(
                "/v2/crash/app/blobs/uploads/", params={"digest": digest_of(data)}, content=body()
            )

    pusher = threading.Thread(target=push)
    pusher.start()
    try:
        wait_until(
            lambda: len(swift_server.list_objects(container, "segments/")) >= 2, 60, "two parts"
        )
        _kill(server)
    finally:
        more.set()
        pusher.join(60)
    assert swift_server.list_objects(container, "uploads/")  # what the crash left
    server = _regd(swift_server, driver, tmp_path / "data", container)
    try:
        wait_until(lambda: not _leftovers(swift_server, container), 60, "the start-up sweep")
        _push_afterwards(server, data)
    finally:
        assert server.stop() == 0, server.log
    assert "Traceback" not in server.log


@pytest.mark.parametrize("driver", ["swift", "s3"])
def test_killed_mid_commit_leaves_nothing_after_the_restart(
    driver: str, swift_server: SwiftServer, tmp_path: Path
) -> None:
    container = _container(driver)
    data = os.urandom(9 * MiB)  # two parts: S3 joins them with a multipart upload
    proxy = FaultyProxy(swift_server.endpoint, preserve_host=True).start()
    try:
        server = _regd(swift_server, driver, tmp_path / "data", container, via=proxy.url)
        proxy.hang(only=COMPOSE[driver])

        def push() -> None:
            with server.client() as http, pytest.raises(httpx.HTTPError):
                http.post(
                    "/v2/crash/app/blobs/uploads/", params={"digest": digest_of(data)}, content=data
                )

        pusher = threading.Thread(target=push)
        pusher.start()
        try:
            wait_until(
                lambda: any(
                    r.method == "PUT" and "/blobs/" in r.path and r.status == 0
                    for r in proxy.requests()
                ),
                60,
                "the commit joining the parts",
            )
            _kill(server)
        finally:
            pusher.join(60)
    finally:
        proxy.stop()
    assert swift_server.list_objects(container, "segments/")  # what the crash left
    server = _regd(swift_server, driver, tmp_path / "data", container)
    try:
        wait_until(lambda: not _leftovers(swift_server, container), 60, "the start-up sweep")
        _push_afterwards(server, data)
    finally:
        assert server.stop() == 0, server.log
    assert "Traceback" not in server.log
