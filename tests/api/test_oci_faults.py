"""Faults: truncated bodies, clients that vanish mid-chunk, SIGKILL mid-push, restarts.

Whatever happens, a blob or manifest is visible only once it was acknowledged, what was
acknowledged survives a crash intact, and an upload session resumes where its staged bytes end.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.oci import (
    OCI_MANIFEST,
    Session,
    assert_oci_error,
    basic_auth,
    blob_path,
    digest_of,
    push_blob,
    push_image,
    push_manifest,
    send_truncated,
    start_upload,
)
from tests.support.server import ADMIN_PASSWORD, RegdProcess, start_regd
from tests.support.waiting import wait_until

MIB = 1024 * 1024
#: How long a test waits for regd to notice something (it normally takes milliseconds).
NOTICE = 30.0
AUTHORIZATION = basic_auth("admin", ADMIN_PASSWORD)


#: The tests that share ``faulty`` run on one xdist worker (``--dist loadgroup``).
SHARED = pytest.mark.xdist_group("faults-shared-regd")


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    """A regd of this module's own, so its log can be read for what these faults did."""
    server = start_regd(tmp_path_factory.mktemp("faulty"))
    yield server
    assert server.stop() == 0, server.log
    assert "Traceback" not in server.log, server.log


@pytest.fixture
def client(faulty: RegdProcess) -> Iterator[httpx.Client]:
    with faulty.client() as http:
        yield http


def _went_away(server: RegdProcess, method: str, path: str) -> None:
    """Wait until regd has finished with a request whose client vanished."""
    needle = f"{method} {path}: client went away"
    wait_until(lambda: needle in server.log, NOTICE, f"regd to log {needle!r}")


def _chunked(data: bytes, size: int = 64 * 1024) -> bytes:
    """``data`` in the chunked transfer coding, without the final zero-length chunk."""
    return b"".join(
        b"%x\r\n" % len(data[i : i + size]) + data[i : i + size] + b"\r\n"
        for i in range(0, len(data), size)
    )


def _staged(data_dir: Path, uuid: str) -> bytes:
    return (data_dir / "uploads" / uuid).read_bytes()


def _expect_session(client: httpx.Client, session: Session, size: int) -> None:
    status = client.get(session.location)
    assert status.status_code == 204
    assert status.headers["Range"] == f"0-{max(size - 1, 0)}"


def _still_serving(client: httpx.Client, name: str) -> None:
    assert client.get("/v2/").status_code == 200
    image = push_image(client, name, "after-the-fault", seed=name + "-after")
    assert client.get(f"/v2/{name}/manifests/after-the-fault").content == image.manifest


# -- truncated bodies --------------------------------------------------------------------------


@SHARED
@pytest.mark.parametrize("coding", ["content-length", "chunked"])
def test_truncated_monolithic_post(faulty: RegdProcess, client: httpx.Client, coding: str) -> None:
    name = f"faults-mono/{coding}"
    data = os.urandom(3 * MIB + 100)
    digest = digest_of(data)
    path = f"/v2/{name}/blobs/uploads/"
    length = (
        f"Content-Length: {len(data) + 4096}"
        if coding == "content-length"
        else "Transfer-Encoding: chunked"
    )
    head = f"POST {path}?digest={digest} HTTP/1.1\r\n{length}\r\n"
    sent = data if coding == "content-length" else _chunked(data)
    send_truncated(faulty.url, head, sent, AUTHORIZATION)
    _went_away(faulty, "POST", path)
    assert client.head(f"/v2/{name}/blobs/{digest}").status_code == 404
    assert not blob_path(faulty.data_dir, digest).exists()
    # Nothing visible at all: not even a repository.
    assert_oci_error(client.get(f"/v2/{name}/tags/list"), 404, "NAME_UNKNOWN")
    assert name not in client.get("/v2/_catalog").json()["repositories"]
    # The same push, complete, is accepted.
    assert push_blob(client, name, data) == digest
    assert client.get(f"/v2/{name}/blobs/{digest}").content == data
    _still_serving(client, name)


@SHARED
@pytest.mark.parametrize("coding", ["content-length", "chunked"])
def test_truncated_manifest_put(faulty: RegdProcess, client: httpx.Client, coding: str) -> None:
    """The bytes that arrived are a complete, valid manifest: still, the request was not."""
    name = f"faults-manifest/{coding}"
    image = push_image(client, name, "v1", seed=name)
    manifest = json.loads(image.manifest)
    manifest["annotations"] = {"org.example.truncated": "yes"}
    content = json.dumps(manifest).encode()
    path = f"/v2/{name}/manifests/v2"
    length = (
        f"Content-Length: {len(content) + 100}"
        if coding == "content-length"
        else "Transfer-Encoding: chunked"
    )
    head = f"PUT {path} HTTP/1.1\r\nContent-Type: {OCI_MANIFEST}\r\n{length}\r\n"
    sent = content if coding == "content-length" else _chunked(content)
    send_truncated(faulty.url, head, sent, AUTHORIZATION)
    _went_away(faulty, "PUT", path)
    assert_oci_error(client.get(f"/v2/{name}/manifests/v2"), 404, "MANIFEST_UNKNOWN")
    response = client.get(f"/v2/{name}/manifests/{digest_of(content)}")
    assert_oci_error(response, 404, "MANIFEST_UNKNOWN")
    assert client.get(f"/v2/{name}/tags/list").json()["tags"] == ["v1"]
    assert client.get(f"/v2/{name}/manifests/v1").content == image.manifest
    assert push_manifest(client, name, "v2", content).status_code == 201
    _still_serving(client, name)


@SHARED
@pytest.mark.parametrize("coding", ["content-length", "chunked"])
def test_truncated_final_put(faulty: RegdProcess, client: httpx.Client, coding: str) -> None:
    name = f"faults-put/{coding}"
    data = os.urandom(2 * MIB + 3)
    digest = digest_of(data)
    session = start_upload(client, name)
    first = client.patch(session.location, content=data[:MIB])
    assert first.status_code == 202
    path = f"/v2/{name}/blobs/uploads/{session.uuid}"
    length = (
        f"Content-Length: {len(data) - MIB + 1}"
        if coding == "content-length"
        else "Transfer-Encoding: chunked"
    )
    head = f"PUT {path}?digest={digest} HTTP/1.1\r\n{length}\r\n"
    rest = data[MIB:]
    send_truncated(
        faulty.url, head, rest if coding == "content-length" else _chunked(rest), AUTHORIZATION
    )
    _went_away(faulty, "PUT", path)
    assert client.head(f"/v2/{name}/blobs/{digest}").status_code == 404
    assert not blob_path(faulty.data_dir, digest).exists()
    # The session is intact: it holds a prefix of the data and reports exactly that.
    staged = _staged(faulty.data_dir, session.uuid)
    assert MIB <= len(staged) <= len(data)
    assert staged == data[: len(staged)]
    _expect_session(client, session, len(staged))
    done = client.put(session.location, params={"digest": digest}, content=data[len(staged) :])
    assert done.status_code == 201, done.text
    assert client.get(f"/v2/{name}/blobs/{digest}").content == data
    _still_serving(client, name)


# -- a client that vanishes mid-PATCH ----------------------------------------------------------


@SHARED
@pytest.mark.parametrize("coding", ["content-length", "chunked"])
@pytest.mark.parametrize("sent", [100, 2 * MIB + 500_000])
def test_disconnect_mid_patch(
    faulty: RegdProcess, client: httpx.Client, coding: str, sent: int
) -> None:
    name = f"faults-patch/{coding}/{sent}"
    data = os.urandom(4 * MIB + 1)
    digest = digest_of(data)
    session = start_upload(client, name)
    acknowledged = client.patch(session.location, content=data[:1000])
    assert acknowledged.status_code == 202
    path = f"/v2/{name}/blobs/uploads/{session.uuid}"
    chunk = data[1000 : 1000 + sent]
    if coding == "content-length":
        head = f"PATCH {path} HTTP/1.1\r\nContent-Range: 1000-{len(data) - 1}\r\n"
        head += f"Content-Length: {len(data) - 1000}\r\n"
        body = chunk
    else:
        head = f"PATCH {path} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
        body = _chunked(chunk)
    send_truncated(faulty.url, head, body, AUTHORIZATION)
    _went_away(faulty, "PATCH", path)

    assert client.head(f"/v2/{name}/blobs/{digest}").status_code == 404
    assert not blob_path(faulty.data_dir, digest).exists()
    staged = _staged(faulty.data_dir, session.uuid)
    assert 1000 <= len(staged) <= 1000 + sent
    assert staged == data[: len(staged)]
    # The Range is exactly what is staged: a client resumes from there.
    _expect_session(client, session, len(staged))
    wrong_offset = client.patch(
        session.location,
        content=data[len(staged) + 1 :],
        headers={"Content-Range": f"{len(staged) + 1}-{len(data) - 1}"},
    )
    assert_oci_error(wrong_offset, 416, "BLOB_UPLOAD_INVALID")
    assert wrong_offset.headers["Range"] == f"0-{len(staged) - 1}"
    resumed = client.patch(
        session.location,
        content=data[len(staged) :],
        headers={"Content-Range": f"{len(staged)}-{len(data) - 1}"},
    )
    assert resumed.status_code == 202, resumed.text
    assert resumed.headers["Range"] == f"0-{len(data) - 1}"
    assert client.put(session.location, params={"digest": digest}).status_code == 201
    assert client.get(f"/v2/{name}/blobs/{digest}").content == data


# -- crashes and restarts ----------------------------------------------------------------------


class _Stalling:
    """A request body that sends ``before`` bytes, then waits to be released, then the rest."""

    def __init__(self, data: bytes, before: int) -> None:
        self.data = data
        self.before = before
        self.sent_first_part = threading.Event()
        self.release = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        view = memoryview(self.data)
        step = 256 * 1024
        for offset in range(0, self.before, step):
            yield bytes(view[offset : min(offset + step, self.before)])
        self.sent_first_part.set()
        self.release.wait(NOTICE)
        for offset in range(self.before, len(self.data), step):
            yield bytes(view[offset : offset + step])


class _Background:
    """One request in a thread; its response, or the error it ended with."""

    def __init__(self, server: RegdProcess, method: str, path: str, **kwargs: object) -> None:
        self.outcome: httpx.Response | httpx.HTTPError | None = None

        def run() -> None:
            try:
                with server.client() as http:
                    self.outcome = http.request(method, path, **kwargs)  # type: ignore[arg-type]
            except httpx.HTTPError as error:
                self.outcome = error

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> httpx.Response | httpx.HTTPError | None:
        self.thread.join(NOTICE)
        assert not self.thread.is_alive()
        return self.outcome


def _staged_sizes(data_dir: Path) -> dict[str, int]:
    """The staged uploads and their sizes (a sweeper may remove some as we look)."""
    sizes: dict[str, int] = {}
    for entry in (data_dir / "uploads").iterdir():
        try:
            sizes[entry.name] = entry.stat().st_size
        except FileNotFoundError:
            continue
    return sizes


@pytest.fixture
def servers() -> Iterator[list[RegdProcess]]:
    """Every regd a test starts; whatever is still running at the end is killed."""
    started: list[RegdProcess] = []
    yield started
    for server in started:
        server.stop(signal.SIGKILL)


def test_sigkill_mid_push(tmp_path: Path, servers: list[RegdProcess]) -> None:
    data_dir = tmp_path / "data"
    servers.append(start_regd(data_dir))
    first = servers[-1]
    acknowledged: dict[str, bytes] = {}
    with first.client() as client:
        for size in (0, 1, 1000, MIB, 3 * MIB + 17):
            data = os.urandom(size)
            acknowledged[push_blob(client, "faults-crash/app", data)] = data
        session = start_upload(client, "faults-crash/app")
        chunked = os.urandom(MIB + 5)
        assert client.patch(session.location, content=chunked[:MIB]).status_code == 202
        done = client.put(
            session.location, params={"digest": digest_of(chunked)}, content=chunked[MIB:]
        )
        assert done.status_code == 201
        acknowledged[digest_of(chunked)] = chunked
        image = push_image(client, "faults-crash/app", "v1", seed="faults-crash")

    in_flight = os.urandom(16 * MIB)
    body = _Stalling(in_flight, 8 * MIB)
    push = _Background(
        first,
        "POST",
        "/v2/faults-crash/app/blobs/uploads/",
        params={"digest": digest_of(in_flight)},
        content=iter(body),
    )
    assert body.sent_first_part.wait(NOTICE)
    # regd is streaming it to disk: kill it while the request is half received.
    wait_until(
        lambda: sum(_staged_sizes(data_dir).values()) >= 4 * MIB, NOTICE, "bytes to be staged"
    )
    first.stop(signal.SIGKILL)
    body.release.set()
    outcome = push.join()
    assert isinstance(outcome, httpx.HTTPError), outcome  # never acknowledged

    leftovers = set(_staged_sizes(data_dir))
    assert leftovers  # the killed upload's staged bytes
    # Restarted with a short TTL, so its sweeper drops those bytes.
    fast_sweep = {"REGD_UPLOAD_TTL": "1", "REGD_UPLOAD_SWEEP_INTERVAL": "0.2"}
    servers.append(start_regd(data_dir, env=fast_sweep))
    second = servers[-1]
    with second.client() as client:
        for digest, data in acknowledged.items():
            response = client.get(f"/v2/faults-crash/app/blobs/{digest}")
            assert response.status_code == 200, digest
            assert response.headers["Content-Length"] == str(len(data))
            assert "sha256:" + hashlib.sha256(response.content).hexdigest() == digest
            assert blob_path(data_dir, digest).read_bytes() == data
        assert client.get("/v2/faults-crash/app/manifests/v1").content == image.manifest
        assert client.head(f"/v2/faults-crash/app/blobs/{digest_of(in_flight)}").status_code == 404
        assert not blob_path(data_dir, digest_of(in_flight)).exists()
        # The restarted regd takes new pushes, the interrupted one included.
        assert push_blob(client, "faults-crash/app", in_flight) == digest_of(in_flight)
        assert client.get(f"/v2/faults-crash/app/blobs/{digest_of(in_flight)}").content == in_flight
        after = push_image(client, "faults-crash/other", "v1", seed="faults-crash-after")
        assert client.get("/v2/faults-crash/other/manifests/v1").content == after.manifest
    wait_until(
        lambda: not leftovers & set(_staged_sizes(data_dir)), NOTICE, "the leftovers to be swept"
    )
    assert second.stop() == 0
    assert "Traceback" not in second.log, second.log


def test_sigkill_mid_patch_then_resume(tmp_path: Path, servers: list[RegdProcess]) -> None:
    data_dir = tmp_path / "data"
    servers.append(start_regd(data_dir))
    first = servers[-1]
    data = os.urandom(12 * MIB + 333)
    with first.client() as client:
        session = start_upload(client, "faults-resume/app")
        assert client.patch(session.location, content=data[: MIB + 7]).status_code == 202

    rest = data[MIB + 7 : 10 * MIB]
    body = _Stalling(rest, 6 * MIB)
    patch = _Background(
        first,
        "PATCH",
        session.location,
        content=iter(body),
        headers={"Content-Range": f"{MIB + 7}-{10 * MIB - 1}"},
    )
    assert body.sent_first_part.wait(NOTICE)
    wait_until(
        lambda: _staged_sizes(data_dir)[session.uuid] >= 3 * MIB, NOTICE, "bytes to be staged"
    )
    first.stop(signal.SIGKILL)
    body.release.set()
    assert isinstance(patch.join(), httpx.HTTPError)

    servers.append(start_regd(data_dir))
    second = servers[-1]
    staged = _staged(data_dir, session.uuid)
    assert 3 * MIB <= len(staged) <= MIB + 7 + 6 * MIB
    assert staged == data[: len(staged)]
    with second.client() as client:
        _expect_session(client, session, len(staged))
        assert client.head(f"/v2/faults-resume/app/blobs/{digest_of(data)}").status_code == 404
        resumed = client.patch(
            session.location,
            content=data[len(staged) :],
            headers={"Content-Range": f"{len(staged)}-{len(data) - 1}"},
        )
        assert resumed.status_code == 202, resumed.text
        done = client.put(session.location, params={"digest": digest_of(data)})
        assert done.status_code == 201, done.text
        assert client.get(f"/v2/faults-resume/app/blobs/{digest_of(data)}").content == data


@pytest.mark.parametrize(
    ("sig", "algorithm"),
    [(signal.SIGTERM, "sha256"), (signal.SIGKILL, "sha512")],
    ids=["sigterm-sha256", "sigkill-sha512"],
)
def test_restart_between_chunks(
    tmp_path: Path, servers: list[RegdProcess], sig: signal.Signals, algorithm: str
) -> None:
    """The running hash is rebuilt from the staged bytes: the session carries on."""
    data_dir = tmp_path / "data"
    data = os.urandom(3 * MIB + 99)
    first_end, second_end = MIB + 1, 2 * MIB + 50
    servers.append(start_regd(data_dir))
    with servers[-1].client() as client:
        session = start_upload(client, "faults-restart/app")
        response = client.patch(
            session.location, content=data[:first_end], headers={"Content-Range": f"0-{MIB}"}
        )
        assert response.status_code == 202, response.text
    assert servers[-1].stop(sig) == (0 if sig == signal.SIGTERM else -signal.SIGKILL)

    servers.append(start_regd(data_dir))
    with servers[-1].client() as client:
        _expect_session(client, session, first_end)
        response = client.patch(
            session.location,
            content=data[first_end:second_end],
            headers={"Content-Range": f"{first_end}-{second_end - 1}"},
        )
        assert response.status_code == 202, response.text
        assert response.headers["Range"] == f"0-{second_end - 1}"
        digest = digest_of(data, algorithm)
        # A wrong digest is refused: the rebuilt hash covers every staged byte.
        flipped = digest[:-1] + ("1" if digest.endswith("0") else "0")
        wrong = client.put(session.location, params={"digest": flipped})
        assert_oci_error(wrong, 400, "DIGEST_INVALID")
        _expect_session(client, session, second_end)
        done = client.put(session.location, params={"digest": digest}, content=data[second_end:])
        assert done.status_code == 201, done.text
        assert done.headers["Docker-Content-Digest"] == digest
        assert client.get(f"/v2/faults-restart/app/blobs/{digest}").content == data
