"""The /v2/ blob and upload tests again, on a regd whose blobs live in Swift (native API)
and in S3 (Swift's s3api): the same test functions, collected here a second time with a
``regd`` of this module (parametrized over both drivers).

Left out: the tests that look at files in the data directory (staged uploads, blob
paths), which the driver suite covers for every driver instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_oci_blobs import (  # noqa: F401 -- collected again, on object storage
    test_a_blob_is_visible_only_in_the_repository_it_was_pushed_to,
    test_an_empty_blob,
    test_delete_a_blob,
    test_delete_unlinks_from_one_repository_only,
    test_head_and_get_a_blob,
    test_range_requests,
    test_unknown_blob_is_blob_unknown,
    test_unsatisfiable_range_is_416,
)
from tests.api.test_oci_uploads import (  # noqa: F401
    test_a_blob_that_cannot_be_mounted_opens_a_session,
    test_a_chunked_patch_whose_body_is_not_its_content_range_is_undone,
    test_a_deleted_blob_cannot_be_mounted,
    test_chunked_session,
    test_cross_repository_mount,
    test_malformed_content_range_is_416,
    test_monolithic_post,
    test_monolithic_post_of_content_already_stored_elsewhere,
    test_monolithic_post_with_chunked_transfer_encoding,
    test_out_of_order_chunk_is_416,
    test_patch_with_chunked_transfer_encoding,
    test_post_opens_a_session,
    test_put_with_a_final_chunk,
    test_put_with_the_whole_blob_and_no_patch,
    test_put_without_digest_is_refused,
    test_session_finished_with_a_sha512_digest,
    test_status_of_a_fresh_session,
    test_unknown_upload_ids,
)
from tests.support.server import RegdProcess
from tests.support.swift import SwiftServer, regd_on_object_storage, swift_server_fixture

__all__ = ["swift_server_fixture"]


@pytest.fixture(scope="module", params=["swift", "s3"])
def regd(
    request: pytest.FixtureRequest,
    swift_server: SwiftServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RegdProcess]:
    data_dir: Path = tmp_path_factory.mktemp(f"regd-{request.param}")
    server = regd_on_object_storage(swift_server, str(request.param), data_dir)
    yield server
    assert server.stop() == 0, server.log
    blobs = data_dir / "blobs"
    assert not blobs.exists() or not any(blobs.rglob("*")), "blobs went to the data dir"


@pytest.fixture
def http(regd: RegdProcess) -> Iterator[httpx.Client]:
    with regd.client() as client:
        yield client
