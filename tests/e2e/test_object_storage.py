"""The skopeo, podman, docker and oras end-to-end tests again, on a regd whose blobs live
in Swift (native API) and in S3 (Swift's s3api), from the session's Swift all-in-one.

The test functions are the ones of test_skopeo.py, test_podman.py, test_docker.py and
test_oras.py, collected here a second time; this module's fixtures give them a regd on
object storage, once per driver.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_docker import test_manifest_inspect  # noqa: F401 -- collected again
from tests.e2e.test_oras import test_artifact_with_subject_and_referrers  # noqa: F401
from tests.e2e.test_podman import test_push_and_pull  # noqa: F401
from tests.e2e.test_skopeo import (  # noqa: F401
    client,
    test_copy_between_repositories_mounts_blobs,
    test_delete,
    test_push_then_pull_back_byte_identical,
)
from tests.support.server import RegdProcess
from tests.support.swift import SwiftServer, regd_on_object_storage, swift_server_fixture

__all__ = ["client", "swift_server_fixture"]

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("object-storage")]


@pytest.fixture(scope="module", params=["swift", "s3"])
def storage_driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def regd(
    storage_driver: str, swift_server: SwiftServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegdProcess]:
    data_dir = tmp_path_factory.mktemp(f"e2e-{storage_driver}")
    server = regd_on_object_storage(swift_server, storage_driver, data_dir, "--access-log")
    yield server
    assert server.stop() == 0, server.log


@pytest.fixture(scope="module")
def skopeo_regd(regd: RegdProcess) -> RegdProcess:
    return regd


@pytest.fixture(scope="module")
def logged_regd(regd: RegdProcess) -> RegdProcess:
    return regd


@pytest.fixture
def http(regd: RegdProcess) -> Iterator[httpx.Client]:
    with regd.client() as client:
        yield client


@pytest.fixture
def fresh_regd(
    storage_driver: str, swift_server: SwiftServer, tmp_path: Path
) -> Iterator[RegdProcess]:
    server = regd_on_object_storage(swift_server, storage_driver, tmp_path / "data")
    yield server
    assert server.stop() == 0, server.log
