"""Blobs: HEAD and GET (with Range), DELETE, both digest algorithms, repository isolation."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from tests.support.oci import assert_oci_error, blob_path, digest_of, push_blob
from tests.support.server import RegdProcess

#: Spans several of regd's 1 MiB receive and sendfile chunks, and ends mid-chunk.
BIG = os.urandom(3 * 1024 * 1024 + 12345)


def test_head_and_get_a_blob(http: httpx.Client) -> None:
    digest = push_blob(http, "blobs-get", BIG)
    head = http.head(f"/v2/blobs-get/blobs/{digest}")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == str(len(BIG))
    assert head.headers["Docker-Content-Digest"] == digest
    get = http.get(f"/v2/blobs-get/blobs/{digest}")
    assert get.status_code == 200
    assert get.headers["Content-Length"] == str(len(BIG))
    assert get.headers["Docker-Content-Digest"] == digest
    assert get.content == BIG


def test_an_empty_blob(http: httpx.Client) -> None:
    digest = push_blob(http, "blobs-empty", b"")
    head = http.head(f"/v2/blobs-empty/blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == "0"
    get = http.get(f"/v2/blobs-empty/blobs/{digest}")
    assert get.status_code == 200
    assert get.content == b""


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        ("bytes=1048570-1048600", 1048570, 1048600),  # across a 1 MiB boundary
        (f"bytes={len(BIG) - 100}-", len(BIG) - 100, len(BIG) - 1),
        ("bytes=-50", len(BIG) - 50, len(BIG) - 1),
        (f"bytes=5-{len(BIG) + 1000}", 5, len(BIG) - 1),  # an end past the blob is clamped
    ],
)
def test_range_requests(http: httpx.Client, header: str, start: int, end: int) -> None:
    digest = push_blob(http, "blobs-range", BIG)
    response = http.get(f"/v2/blobs-range/blobs/{digest}", headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(BIG)}"
    assert response.headers["Content-Length"] == str(end - start + 1)
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.content == BIG[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=99999999-", "bytes=3145728000-3145728001"])
def test_unsatisfiable_range_is_416(http: httpx.Client, header: str) -> None:
    digest = push_blob(http, "blobs-range416", b"short blob")
    response = http.get(f"/v2/blobs-range416/blobs/{digest}", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */10"


def test_delete_a_blob(http: httpx.Client) -> None:
    data = b"blob to delete"
    digest = push_blob(http, "blobs-delete", data)
    kept = push_blob(http, "blobs-delete", b"blob to keep")
    response = http.delete(f"/v2/blobs-delete/blobs/{digest}")
    assert response.status_code == 202
    assert_oci_error(http.get(f"/v2/blobs-delete/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert http.head(f"/v2/blobs-delete/blobs/{digest}").status_code == 404
    assert http.get(f"/v2/blobs-delete/blobs/{kept}").content == b"blob to keep"
    # A second delete finds nothing; pushing again brings it back.
    assert_oci_error(http.delete(f"/v2/blobs-delete/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    push_blob(http, "blobs-delete", data)
    assert http.get(f"/v2/blobs-delete/blobs/{digest}").content == data


def test_delete_unlinks_from_one_repository_only(http: httpx.Client) -> None:
    data = b"blob shared by two repositories"
    digest = push_blob(http, "blobs-shared/a", data)
    push_blob(http, "blobs-shared/b", data)
    assert http.delete(f"/v2/blobs-shared/a/blobs/{digest}").status_code == 202
    assert http.head(f"/v2/blobs-shared/a/blobs/{digest}").status_code == 404
    assert http.get(f"/v2/blobs-shared/b/blobs/{digest}").content == data


def test_unknown_blob_is_blob_unknown(http: httpx.Client) -> None:
    push_blob(http, "blobs-unknown", b"something else")
    missing = digest_of(b"never pushed")
    error = assert_oci_error(http.get(f"/v2/blobs-unknown/blobs/{missing}"), 404, "BLOB_UNKNOWN")
    assert error["detail"] == {"digest": missing}
    head = http.head(f"/v2/blobs-unknown/blobs/{missing}")
    assert head.status_code == 404
    assert head.content == b""


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_both_digest_algorithms(http: httpx.Client, regd: RegdProcess, algorithm: str) -> None:
    data = f"content addressed by {algorithm}".encode() + BIG[:2_000_000]
    digest = digest_of(data, algorithm)
    response = http.post(
        f"/v2/blobs-{algorithm}/blobs/uploads/", params={"digest": digest}, content=data
    )
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["Location"] == f"/v2/blobs-{algorithm}/blobs/{digest}"
    got = http.get(f"/v2/blobs-{algorithm}/blobs/{digest}")
    assert got.headers["Docker-Content-Digest"] == digest
    assert got.content == data
    # The file on disk is named by that digest and holds exactly the content.
    assert (
        hashlib.new(algorithm, blob_path(regd.data_dir, digest).read_bytes()).hexdigest()
        == (digest.split(":")[1])
    )
    # The same bytes under the other algorithm's digest were never pushed.
    other = "sha512" if algorithm == "sha256" else "sha256"
    assert http.head(f"/v2/blobs-{algorithm}/blobs/{digest_of(data, other)}").status_code == 404


def test_a_blob_is_visible_only_in_the_repository_it_was_pushed_to(http: httpx.Client) -> None:
    data = b"private to repository a"
    digest = push_blob(http, "blobs-isolation/a", data)
    push_blob(http, "blobs-isolation/b", b"b exists, with other content")
    assert http.get(f"/v2/blobs-isolation/a/blobs/{digest}").content == data
    assert_oci_error(http.get(f"/v2/blobs-isolation/b/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert http.head(f"/v2/blobs-isolation/b/blobs/{digest}").status_code == 404
    # A repository that does not exist at all does not see it either.
    assert http.head(f"/v2/blobs-isolation/c/blobs/{digest}").status_code == 404
    ranged = http.get(f"/v2/blobs-isolation/b/blobs/{digest}", headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 404
    assert_oci_error(http.delete(f"/v2/blobs-isolation/b/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert http.get(f"/v2/blobs-isolation/a/blobs/{digest}").content == data
