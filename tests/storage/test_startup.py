"""regd's start on object storage: the container or bucket is created when missing; wrong
credentials, an unreachable endpoint or a bad ``storage_url`` stop it with one line that
names the endpoint and the cause (no traceback, no secret), and a non-zero exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.support.server import ADMIN_PASSWORD
from tests.support.swift import REGION, SwiftServer, regd_on_object_storage, swift_server_fixture

__all__ = ["swift_server_fixture"]


def _serve(
    data_dir: Path, storage_url: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ST_", "OS_"))}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "regd",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            str(data_dir),
            "--storage-url",
            storage_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**base, "REGD_ADMIN_PASSWORD": ADMIN_PASSWORD, **env},
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _assert_one_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("regd: ")]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def test_missing_container_and_bucket_are_created(
    swift_server: SwiftServer, tmp_path: Path
) -> None:
    for driver in ("swift", "s3"):
        name = f"created-{driver}-{uuid.uuid4().hex[:8]}"
        url = swift_server.swift_url(name) if driver == "swift" else swift_server.s3_url(name)
        server = regd_on_object_storage(swift_server, driver, tmp_path / driver, url=url)
        try:
            with server.client() as http:
                pushed = http.post(
                    "/v2/start/blobs/uploads/", params={"digest": _sha(b"x")}, content=b"x"
                )
                assert pushed.status_code == 201, pushed.text
        finally:
            assert server.stop() == 0
        assert any(key.startswith("blobs/sha256/") for key in swift_server.list_objects(name))


def _sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_wrong_swift_key_is_one_line(swift_server: SwiftServer, tmp_path: Path) -> None:
    env = {**swift_server.swift_env(), "ST_KEY": "not-the-key-s3cr3t"}
    done = _serve(tmp_path, swift_server.swift_url(), env)
    line = _assert_one_line(done, swift_server.auth_url, "401")
    assert "s3cr3t" not in done.stderr + done.stdout, line


def test_wrong_s3_secret_is_one_line(swift_server: SwiftServer, tmp_path: Path) -> None:
    env = {**swift_server.s3_env(), "AWS_SECRET_ACCESS_KEY": "wrong-s3cr3t"}
    done = _serve(tmp_path, swift_server.s3_url(), env)
    _assert_one_line(done, swift_server.endpoint)
    assert "s3cr3t" not in done.stderr + done.stdout


def test_unreachable_endpoints_are_one_line(swift_server: SwiftServer, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    s3 = _serve(
        tmp_path / "s3", f"s3://bucket-x?endpoint={dead}&region={REGION}", swift_server.s3_env()
    )
    _assert_one_line(s3, dead)
    env = {**swift_server.swift_env(), "ST_AUTH": f"{dead}/auth/v1.0"}
    swift = _serve(tmp_path / "swift", "swift://container-x", env)
    _assert_one_line(swift, dead)


def test_bad_storage_urls_are_refused(tmp_path: Path) -> None:
    for url, expected in [
        ("ftp://x", "unsupported scheme"),
        ("s3://key:secret@bucket", "must not hold credentials"),
        ("s3://B?region=x", "invalid S3 bucket name"),
        ("s3://bucket?endpint=http://x", "unknown s3 option"),
        ("swift://c?x=1", "takes no options"),
        ("swift://c?timeout=0", "timeout '0' is not"),
        ("s3://bucket?timeout=soon", "timeout 'soon' is not"),
    ]:
        done = _serve(tmp_path, url, {})
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr
        assert "secret" not in done.stderr or "credentials" in done.stderr


def test_swift_without_credentials_says_which_variables(tmp_path: Path) -> None:
    done = _serve(tmp_path, "swift://c", {})
    _assert_one_line(done, "ST_AUTH", "OS_AUTH_URL")


def test_health_answers_on_object_storage(swift_server: SwiftServer, tmp_path: Path) -> None:
    server = regd_on_object_storage(swift_server, "s3", tmp_path)
    try:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        assert server.stop() == 0
