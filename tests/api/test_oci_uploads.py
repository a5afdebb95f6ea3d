"""Blob uploads: monolithic, sessions and chunks, verification, cancel, mounts, expiry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.identities import bind_role, client_as, create_user
from tests.support.oci import (
    Session,
    assert_oci_error,
    blob_path,
    digest_of,
    push_blob,
    start_upload,
    upload_range,
)
from tests.support.server import RegdProcess, start_regd
from tests.support.waiting import wait_until

DATA = os.urandom(2 * 1024 * 1024 + 777)


def _unique(label: str) -> bytes:
    """DATA made unique to one test, for tests that look at the content-addressed store."""
    return label.encode() + DATA


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


def _patch(
    client: httpx.Client, session: Session, chunk: bytes, start: int | None
) -> httpx.Response:
    headers = {"Content-Type": "application/octet-stream"}
    if start is not None:
        headers["Content-Range"] = f"{start}-{start + len(chunk) - 1}"
    return client.patch(session.location, content=chunk, headers=headers)


def _expect_session_headers(response: httpx.Response, session: Session, size: int) -> None:
    assert response.headers["Location"] == session.location
    assert response.headers["Docker-Upload-UUID"] == session.uuid
    assert response.headers["Range"] == f"0-{max(size - 1, 0)}"


def _expect_blob(client: httpx.Client, name: str, data: bytes) -> None:
    response = client.get(f"/v2/{name}/blobs/{digest_of(data)}")
    assert response.status_code == 200
    assert response.content == data


# -- monolithic ------------------------------------------------------------------------------


def test_monolithic_post(http: httpx.Client) -> None:
    digest = digest_of(DATA)
    response = http.post(
        "/v2/uploads-mono/blobs/uploads/",
        params={"digest": digest},
        content=DATA,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/uploads-mono/blobs/{digest}"
    assert response.headers["Docker-Content-Digest"] == digest
    _expect_blob(http, "uploads-mono", DATA)


def test_monolithic_post_with_chunked_transfer_encoding(http: httpx.Client) -> None:
    digest = digest_of(DATA)
    response = http.post(
        "/v2/uploads-mono-chunked/blobs/uploads/",
        params={"digest": digest},
        content=_chunks(DATA, 300_000),
    )
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 201
    _expect_blob(http, "uploads-mono-chunked", DATA)


def test_monolithic_post_of_content_already_stored_elsewhere(http: httpx.Client) -> None:
    push_blob(http, "uploads-dedup/a", b"same bytes, two repositories")
    push_blob(http, "uploads-dedup/b", b"same bytes, two repositories")
    _expect_blob(http, "uploads-dedup/b", b"same bytes, two repositories")


def test_monolithic_post_with_wrong_digest(http: httpx.Client, regd: RegdProcess) -> None:
    data = _unique("mono-wrong")
    claimed = digest_of(b"what the client claims")
    response = http.post(
        "/v2/uploads-mono-wrong/blobs/uploads/", params={"digest": claimed}, content=data
    )
    error = assert_oci_error(response, 400, "DIGEST_INVALID")
    assert error["detail"]["actual"] == digest_of(data)
    for digest in (claimed, digest_of(data)):
        assert http.head(f"/v2/uploads-mono-wrong/blobs/{digest}").status_code == 404
        assert not blob_path(regd.data_dir, digest).exists()
    # Nothing at all: not even the repository.
    assert_oci_error(http.get("/v2/uploads-mono-wrong/tags/list"), 404, "NAME_UNKNOWN")
    assert "uploads-mono-wrong" not in http.get("/v2/_catalog").json()["repositories"]


# -- sessions ------------------------------------------------------------------------------


def test_post_opens_a_session(http: httpx.Client) -> None:
    response = http.post("/v2/uploads-session/blobs/uploads/")
    assert response.status_code == 202
    uuid = response.headers["Docker-Upload-UUID"]
    assert uuid
    assert response.headers["Location"] == f"/v2/uploads-session/blobs/uploads/{uuid}"
    assert response.headers["Range"] == "0-0"
    # Without the trailing slash too.
    assert http.post("/v2/uploads-session/blobs/uploads").status_code == 202


@pytest.mark.parametrize("content_range", [True, False], ids=["content-range", "no-range"])
def test_chunked_session(http: httpx.Client, content_range: bool) -> None:
    name = f"uploads-chunks/{content_range}".lower()
    session = start_upload(http, name)
    offset = 0
    for chunk in _chunks(DATA, 700_000):
        response = _patch(http, session, chunk, offset if content_range else None)
        assert response.status_code == 202, response.text
        offset += len(chunk)
        _expect_session_headers(response, session, offset)
        status = http.get(session.location)
        assert status.status_code == 204
        _expect_session_headers(status, session, offset)
    assert http.head(f"/v2/{name}/blobs/{digest_of(DATA)}").status_code == 404
    done = http.put(session.location, params={"digest": digest_of(DATA)})
    assert done.status_code == 201, done.text
    assert done.headers["Location"] == f"/v2/{name}/blobs/{digest_of(DATA)}"
    assert done.headers["Docker-Content-Digest"] == digest_of(DATA)
    _expect_blob(http, name, DATA)
    # The session is over.
    assert_oci_error(http.get(session.location), 404, "BLOB_UPLOAD_UNKNOWN")


def test_patch_with_chunked_transfer_encoding(http: httpx.Client) -> None:
    session = start_upload(http, "uploads-patch-te")
    first = http.patch(session.location, content=_chunks(DATA[:1_500_000], 65536))
    assert first.request.headers["Transfer-Encoding"] == "chunked"
    assert first.status_code == 202
    assert upload_range(first) == 1_500_000
    second = http.patch(
        session.location,
        content=_chunks(DATA[1_500_000:], 100_000),
        headers={"Content-Range": f"1500000-{len(DATA) - 1}"},
    )
    assert second.status_code == 202
    assert upload_range(second) == len(DATA)
    assert http.put(session.location, params={"digest": digest_of(DATA)}).status_code == 201
    _expect_blob(http, "uploads-patch-te", DATA)


@pytest.mark.parametrize("sent", [9 << 20, 11 << 20], ids=["shorter", "longer"])
def test_a_chunked_patch_whose_body_is_not_its_content_range_is_undone(
    http: httpx.Client, sent: int
) -> None:
    """Transfer-Encoding: chunked announces no length, so the mismatch shows only once
    bytes are staged (more than one object-store part here): they are undone, the running
    hash too, and the upload goes on from where it was."""
    name = "uploads-patch-te-mismatch"
    data = _unique(f"te-mismatch-{sent}") + os.urandom(10 << 20)
    head, announced = 3 << 20, 10 << 20
    session = start_upload(http, name)
    assert _patch(http, session, data[:head], 0).status_code == 202
    refused = http.patch(
        session.location,
        content=_chunks(os.urandom(sent), 1 << 20),
        headers={"Content-Range": f"{head}-{head + announced - 1}"},
    )
    assert refused.request.headers["Transfer-Encoding"] == "chunked"
    assert_oci_error(refused, 416, "BLOB_UPLOAD_INVALID")
    assert upload_range(http.get(session.location)) == head  # as it was
    rest = http.patch(
        session.location,
        content=_chunks(data[head:], 1 << 20),
        headers={"Content-Range": f"{head}-{len(data) - 1}"},
    )
    assert rest.status_code == 202, rest.text
    assert upload_range(rest) == len(data)
    assert http.put(session.location, params={"digest": digest_of(data)}).status_code == 201
    _expect_blob(http, name, data)


@pytest.mark.parametrize("start", [0, 5, 11, 1000])
def test_out_of_order_chunk_is_416(http: httpx.Client, start: int) -> None:
    session = start_upload(http, "uploads-order")
    assert _patch(http, session, b"0123456789", 0).status_code == 202
    response = _patch(http, session, b"abc", start)
    assert_oci_error(response, 416, "BLOB_UPLOAD_INVALID")
    _expect_session_headers(response, session, 10)
    # The refused chunk left nothing behind; the right offset still works.
    assert upload_range(http.get(session.location)) == 10
    assert _patch(http, session, b"abc", 10).status_code == 202
    done = http.put(session.location, params={"digest": digest_of(b"0123456789abc")})
    assert done.status_code == 201
    _expect_blob(http, "uploads-order", b"0123456789abc")


@pytest.mark.parametrize("start", [5, 11, 20])
def test_a_closing_put_whose_content_range_is_not_at_the_uploaded_size_is_416(
    http: httpx.Client, start: int
) -> None:
    """The conformance suite's check: the upload is left as it was, and still works."""
    name = f"uploads-put-range-{start}"
    session = start_upload(http, name)
    assert _patch(http, session, b"0123456789", 0).status_code == 202
    whole = digest_of(b"0123456789abc")
    response = http.put(
        session.location,
        params={"digest": whole},
        content=b"abc",
        headers={
            "Content-Range": f"{start}-{start + 2}",
            "Content-Type": "application/octet-stream",
        },
    )
    assert_oci_error(response, 416, "BLOB_UPLOAD_INVALID")
    _expect_session_headers(response, session, 10)
    assert upload_range(http.get(session.location)) == 10
    assert http.head(f"/v2/{name}/blobs/{whole}").status_code == 404
    done = http.put(
        session.location,
        params={"digest": whole},
        content=b"abc",
        headers={"Content-Range": "10-12", "Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 201, done.text
    _expect_blob(http, name, b"0123456789abc")


def test_malformed_content_range_is_416(http: httpx.Client) -> None:
    session = start_upload(http, "uploads-badrange")
    for value in ("banana", "5-2", "-3"):
        response = http.patch(session.location, content=b"x", headers={"Content-Range": value})
        assert_oci_error(response, 416, "BLOB_UPLOAD_INVALID")
    assert http.get(session.location).headers["Range"] == "0-0"


def test_status_of_a_fresh_session(http: httpx.Client) -> None:
    session = start_upload(http, "uploads-status")
    status = http.get(session.location)
    assert status.status_code == 204
    assert status.content == b""
    _expect_session_headers(status, session, 0)


@pytest.mark.parametrize("te", [False, True], ids=["content-length", "chunked"])
def test_put_with_a_final_chunk(http: httpx.Client, te: bool) -> None:
    name = f"uploads-final/{'te' if te else 'cl'}"
    session = start_upload(http, name)
    assert _patch(http, session, DATA[:1_000_000], 0).status_code == 202
    rest = DATA[1_000_000:]
    done = http.put(
        session.location,
        params={"digest": digest_of(DATA)},
        content=_chunks(rest, 200_000) if te else rest,
    )
    assert done.status_code == 201, done.text
    _expect_blob(http, name, DATA)


def test_put_with_the_whole_blob_and_no_patch(http: httpx.Client) -> None:
    session = start_upload(http, "uploads-put-only")
    done = http.put(session.location, params={"digest": digest_of(DATA)}, content=DATA)
    assert done.status_code == 201
    _expect_blob(http, "uploads-put-only", DATA)


def test_put_without_digest_is_refused(http: httpx.Client) -> None:
    session = start_upload(http, "uploads-put-nodigest")
    assert _patch(http, session, b"bytes", 0).status_code == 202
    assert_oci_error(http.put(session.location), 400, "DIGEST_INVALID")
    assert upload_range(http.get(session.location)) == 5


def test_put_with_wrong_digest(http: httpx.Client, regd: RegdProcess) -> None:
    data = _unique("put-wrong")
    session = start_upload(http, "uploads-put-wrong")
    assert _patch(http, session, data, 0).status_code == 202
    wrong = digest_of(data + b"!")
    error = assert_oci_error(
        http.put(session.location, params={"digest": wrong}), 400, "DIGEST_INVALID"
    )
    assert error["detail"] == {"expected": wrong, "actual": digest_of(data)}
    for digest in (wrong, digest_of(data)):
        assert http.head(f"/v2/uploads-put-wrong/blobs/{digest}").status_code == 404
        assert not blob_path(regd.data_dir, digest).exists()
    wrong512 = digest_of(data + b"!", "sha512")
    response = http.put(session.location, params={"digest": wrong512})
    assert_oci_error(response, 400, "DIGEST_INVALID")
    assert http.head(f"/v2/uploads-put-wrong/blobs/{wrong512}").status_code == 404
    # The session still holds what was sent; the right digest completes it.
    assert upload_range(http.get(session.location)) == len(data)
    assert http.put(session.location, params={"digest": digest_of(data)}).status_code == 201
    _expect_blob(http, "uploads-put-wrong", data)


def test_session_finished_with_a_sha512_digest(http: httpx.Client) -> None:
    session = start_upload(http, "uploads-sha512")
    assert _patch(http, session, DATA[:100], 0).status_code == 202
    digest = digest_of(DATA, "sha512")
    done = http.put(session.location, params={"digest": digest}, content=DATA[100:])
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == digest
    assert http.get(f"/v2/uploads-sha512/blobs/{digest}").content == DATA


def test_cancel_an_upload(http: httpx.Client, regd: RegdProcess) -> None:
    session = start_upload(http, "uploads-cancel")
    assert _patch(http, session, b"doomed bytes", 0).status_code == 202
    response = http.delete(session.location)
    assert response.status_code == 204
    assert_oci_error(http.get(session.location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_oci_error(_patch(http, session, b"more", None), 404, "BLOB_UPLOAD_UNKNOWN")
    done = http.put(session.location, params={"digest": digest_of(b"doomed bytes")})
    assert_oci_error(done, 404, "BLOB_UPLOAD_UNKNOWN")
    assert_oci_error(http.delete(session.location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert http.head(f"/v2/uploads-cancel/blobs/{digest_of(b'doomed bytes')}").status_code == 404
    assert not (regd.data_dir / "uploads" / session.uuid).exists()


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_an_upload_id_of_another_repository_is_unknown(http: httpx.Client, method: str) -> None:
    session = start_upload(http, "uploads-owner/mine")
    assert _patch(http, session, b"mine", 0).status_code == 202
    push_blob(http, "uploads-owner/theirs", b"theirs exists")
    for other in ("uploads-owner/theirs", "uploads-owner/nonexistent"):
        response = http.request(
            method,
            f"/v2/{other}/blobs/uploads/{session.uuid}",
            params={"digest": digest_of(b"mine")} if method == "PUT" else None,
            content=b"x" if method == "PATCH" else None,
        )
        assert_oci_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    # The owner's session is untouched.
    assert upload_range(http.get(session.location)) == 4
    assert http.put(session.location, params={"digest": digest_of(b"mine")}).status_code == 201
    assert http.head(f"/v2/uploads-owner/theirs/blobs/{digest_of(b'mine')}").status_code == 404


@pytest.mark.parametrize("uuid", ["not-a-session", ".hidden", "%2E%2E", "0" * 36])
def test_unknown_upload_ids(http: httpx.Client, uuid: str) -> None:
    start_upload(http, "uploads-unknown-id")
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        response = http.request(
            method,
            f"/v2/uploads-unknown-id/blobs/uploads/{uuid}",
            params={"digest": digest_of(b"")} if method == "PUT" else None,
        )
        assert_oci_error(response, 404, "BLOB_UPLOAD_UNKNOWN")


# -- mounts ----------------------------------------------------------------------------------


def test_cross_repository_mount(http: httpx.Client) -> None:
    data = b"layer shared by mounting"
    digest = push_blob(http, "uploads-mount/source", data)
    response = http.post(
        "/v2/uploads-mount/target/blobs/uploads/",
        params={"mount": digest, "from": "uploads-mount/source"},
    )
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/uploads-mount/target/blobs/{digest}"
    assert response.headers["Docker-Content-Digest"] == digest
    assert http.get(f"/v2/uploads-mount/target/blobs/{digest}").content == data
    # Unlinking one side leaves the other.
    assert http.delete(f"/v2/uploads-mount/source/blobs/{digest}").status_code == 202
    assert http.get(f"/v2/uploads-mount/target/blobs/{digest}").content == data


@pytest.mark.parametrize(
    ("target", "query"),
    [
        ("not-in-source", {"from": "uploads-nomount/source"}),
        ("unknown-source", {"from": "uploads-nomount/nonexistent"}),
        ("no-from", {}),
    ],
)
def test_a_blob_that_cannot_be_mounted_opens_a_session(
    http: httpx.Client, target: str, query: dict[str, str]
) -> None:
    push_blob(http, "uploads-nomount/source", b"some other blob")
    target = f"uploads-nomount/{target}"
    data = f"never pushed to the source, for {target}".encode()
    digest = digest_of(data)
    response = http.post(f"/v2/{target}/blobs/uploads/", params={"mount": digest, **query})
    assert response.status_code == 202
    session = Session(target, response.headers["Location"], response.headers["Docker-Upload-UUID"])
    assert response.headers["Location"] == f"/v2/{target}/blobs/uploads/{session.uuid}"
    assert response.headers["Range"] == "0-0"
    assert http.head(f"/v2/{target}/blobs/{digest}").status_code == 404
    # The fallback session works like any other.
    assert http.put(session.location, params={"digest": digest}, content=data).status_code == 201
    _expect_blob(http, target, data)


def test_automatic_cross_mount_from_a_repository_the_caller_may_pull(
    http: httpx.Client, regd: RegdProcess
) -> None:
    """POST ?mount= without from: 201 when the blob sits in a repository the caller may
    pull; otherwise a session, and nothing of the other repository shows through."""
    data = b"layer mounted without naming its repository"
    digest = push_blob(http, "uploads-automount/source", data)
    response = http.post("/v2/uploads-automount/target/blobs/uploads/", params={"mount": digest})
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/v2/uploads-automount/target/blobs/{digest}"
    _expect_blob(http, "uploads-automount/target", data)

    create_user(http, "automount-ed", "automount-password")
    bind_role(http, "registry-editor", "user:automount-ed", "uploads-automount-ed")
    with client_as(regd, ("automount-ed", "automount-password")) as editor:
        target = "uploads-automount-ed/app"
        refused = editor.post(f"/v2/{target}/blobs/uploads/", params={"mount": digest})
        assert refused.status_code == 202
        assert editor.head(f"/v2/{target}/blobs/{digest}").status_code == 404
        # What it may pull (its own namespace) mounts.
        own = push_blob(editor, "uploads-automount-ed/base", b"the editor's own layer")
        mounted = editor.post(f"/v2/{target}/blobs/uploads/", params={"mount": own})
        assert mounted.status_code == 201


def test_a_deleted_blob_cannot_be_mounted(http: httpx.Client) -> None:
    digest = push_blob(http, "uploads-mount-deleted/source", b"unlinked before the mount")
    assert http.delete(f"/v2/uploads-mount-deleted/source/blobs/{digest}").status_code == 202
    response = http.post(
        "/v2/uploads-mount-deleted/target/blobs/uploads/",
        params={"mount": digest, "from": "uploads-mount-deleted/source"},
    )
    assert response.status_code == 202
    assert http.head(f"/v2/uploads-mount-deleted/target/blobs/{digest}").status_code == 404


def test_mount_with_an_invalid_source_name(http: httpx.Client) -> None:
    digest = push_blob(http, "uploads-mount-badname", b"x")
    response = http.post(
        "/v2/uploads-mount-badname/blobs/uploads/", params={"mount": digest, "from": "Bad//Name"}
    )
    assert_oci_error(response, 400, "NAME_INVALID")


# -- expiry ----------------------------------------------------------------------------------


@pytest.fixture
def short_ttl_regd(tmp_path: Path) -> Iterator[RegdProcess]:
    server = start_regd(
        tmp_path / "data", env={"REGD_UPLOAD_TTL": "1", "REGD_UPLOAD_SWEEP_INTERVAL": "0.2"}
    )
    yield server
    assert server.stop() == 0, server.log


def test_idle_sessions_expire(short_ttl_regd: RegdProcess) -> None:
    with short_ttl_regd.client() as client:
        idle = start_upload(client, "uploads-expire")
        assert _patch(client, idle, b"idle bytes", 0).status_code == 202
        staged = short_ttl_regd.data_dir / "uploads" / idle.uuid
        assert staged.exists()
        wait_until(
            lambda: client.get(idle.location).status_code == 404, 15, "the idle upload to expire"
        )
        assert_oci_error(client.get(idle.location), 404, "BLOB_UPLOAD_UNKNOWN")
        assert_oci_error(_patch(client, idle, b"late", None), 404, "BLOB_UPLOAD_UNKNOWN")
        assert not staged.exists()
        # Work that finishes within the TTL is not disturbed.
        push_blob(client, "uploads-expire", b"quick push")
        _expect_blob(client, "uploads-expire", b"quick push")
