"""The audit log through real HTTP: what is recorded (and what never is), the file and the
database agree, ``GET /api/v1/audit`` filters, ``regctl audit list`` reads it, ``regd gc``
records its run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.identities import create_api_client, create_token, create_user
from tests.support.oci import push_image
from tests.support.server import ADMIN_PASSWORD, RegdProcess, start_regd
from tests.support.waiting import wait_until

NAME = "audit/app"


@pytest.fixture
def regd(tmp_path: Path) -> Iterator[RegdProcess]:
    server = start_regd(
        tmp_path / "data", env={"REGD_AUDIT_LOG": str(tmp_path / "audit" / "audit.log")}
    )
    yield server
    assert server.stop() == 0, server.log


def _events(http: httpx.Client, **query: str) -> list[dict[str, Any]]:
    answer = http.get("/api/v1/audit", params=query)
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()
    return events


def _file(tmp_path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in (tmp_path / "audit" / "audit.log").read_text().splitlines()
    ]


def test_security_events_are_recorded_without_secrets(regd: RegdProcess, tmp_path: Path) -> None:
    secrets: list[str] = [ADMIN_PASSWORD]
    with regd.client() as admin:
        # a failed login at /token and at /api/v1
        bad = httpx.get(
            f"{regd.url}/token", params={"service": "regd"}, auth=("admin", "wrong-pass")
        )
        assert bad.status_code == 401
        secrets.append("wrong-pass")
        assert (
            httpx.get(f"{regd.url}/api/v1/users", auth=("nobody", "nope-nope")).status_code == 401
        )
        ok = admin.get("/token", params={"service": "regd", "scope": f"repository:{NAME}:pull"})
        assert ok.status_code == 200
        secrets.append(ok.json()["token"])
        create_user(admin, "alice", "alice-password")
        secrets.append("alice-password")
        token_id, token = create_token(admin, name="ci", ttl="1h")
        secrets.append(token)
        assert admin.delete(f"/api/v1/tokens/{token_id}").status_code == 204
        _client_id, client_secret = create_api_client(admin, name="robot")
        secrets.append(client_secret)
        assert admin.post("/api/v1/strongbox/vaults", json={"name": "v"}).status_code == 201
        value = "hunter2-very-secret"
        secret = {"name": "s", "data": {"username": "u", "password": value}}
        assert admin.post("/api/v1/strongbox/vaults/v/secrets", json=secret).status_code == 201
        secrets.append(value)
        read = admin.get("/api/v1/strongbox/vaults/v/secrets/s", headers={"X-Request-Id": "req-42"})
        assert read.status_code == 200
        image = push_image(admin, NAME, "1.0")
        assert admin.delete(f"/v2/{NAME}/manifests/{image.digest}").status_code == 202

        events = _events(admin)
    names = [(event["event"], event["outcome"]) for event in events]
    for expected in [
        ("login", "denied"),
        ("login", "success"),
        ("user.create", "success"),
        ("token.create", "success"),
        ("token.revoke", "success"),
        ("api-client.create", "success"),
        ("vault.create", "success"),
        ("secret.create", "success"),
        ("secret.read", "success"),
        ("push", "success"),
        ("delete", "success"),
    ]:
        assert expected in names, (expected, names)
    failed = [e for e in events if e["event"] == "login" and e["outcome"] == "denied"]
    assert {e["principal"] for e in failed} == {"user:admin", "user:nobody"}
    read_event = next(e for e in events if e["event"] == "secret.read")
    assert read_event["request-id"] == "req-42"
    assert read_event["details"]["vault"] == "v"
    assert read_event["details"]["secret_name"] == "s"
    assert read_event["source"] == "127.0.0.1"
    assert read_event["principal"] == "user:admin"
    push = next(e for e in events if e["event"] == "push")
    assert push["details"]["repository"] == NAME
    assert push["details"]["reference"] == "1.0"
    revoke = next(e for e in events if e["event"] == "token.revoke")
    assert revoke["details"]["id"] == token_id
    ids = [e["request-id"] for e in events]
    assert all(ids)
    assert len(set(ids)) == len(ids)  # one per request

    # the file holds the same events, in the same order; no secret anywhere
    in_file = _file(tmp_path)
    assert [e["event"] for e in in_file] == [e["event"] for e in events]
    stored = (tmp_path / "audit" / "audit.log").read_text() + json.dumps(events)
    for value in secrets:
        assert value not in stored
    assert (tmp_path / "audit" / "audit.log").stat().st_mode & 0o077 == 0


def test_filters_and_admins_only(regd: RegdProcess) -> None:
    with regd.client() as admin:
        create_user(admin, "bob", "bob-password")
        assert (
            httpx.get(f"{regd.url}/api/v1/users", auth=("bob", "bad-password")).status_code == 401
        )
        with regd.client(("bob", "bob-password")) as bob:
            assert bob.get("/api/v1/audit").status_code == 403
            assert bob.get("/api/v1/audit").headers["Content-Type"] == "application/problem+json"
        assert httpx.get(f"{regd.url}/api/v1/audit").status_code == 401
        only_bob = _events(admin, principal="user:bob")
        assert [(e["event"], e["outcome"]) for e in only_bob] == [("login", "denied")]
        assert _events(admin, event="user.")[0]["event"] == "user.create"
        assert _events(admin, since="2999-01-01T00:00:00Z") == []
        assert len(_events(admin, since="1h")) >= 2
        assert len(_events(admin, limit="1")) == 1
        for bad in ({"since": "yesterday"}, {"limit": "0"}, {"limit": "x"}):
            answer = admin.get("/api/v1/audit", params=bad)
            assert answer.status_code == 400, bad


def test_regctl_audit_list_and_regd_gc(regd: RegdProcess, tmp_path: Path) -> None:
    with regd.client() as admin:
        create_user(admin, "carol", "carol-password")
    done = subprocess.run(
        [sys.executable, "-m", "regd", "gc", "--data-dir", str(regd.data_dir)],
        env={**os.environ, "REGD_AUDIT_LOG": str(tmp_path / "audit" / "audit.log")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    env = {
        **os.environ,
        "REGCTL_SERVER": regd.url,
        "REGCTL_USERNAME": "admin",
        "REGCTL_PASSWORD": ADMIN_PASSWORD,
        "REGCTL_CONFIG": str(tmp_path / "regctl.yaml"),
    }
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "regctl",
            "audit",
            "list",
            "--since",
            "1h",
            "--principal",
            "admin",
            "-o",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    events = json.loads(listed.stdout)
    assert [e["event"] for e in events] == ["user.create"]
    gc = subprocess.run(
        [sys.executable, "-m", "regctl", "audit", "list", "--event", "gc", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = json.loads(gc.stdout)
    assert [e["principal"] for e in found] == ["regd gc"]
    assert set(found[0]["details"]) == {"links", "blobs", "bytes"}
    wait_until(lambda: any(e["event"] == "gc" for e in _file(tmp_path)), 5, "gc in the file")


def test_a_burst_of_failed_logins_is_stored_whole(regd: RegdProcess, tmp_path: Path) -> None:
    """200 refused logins at once (an attacker's burst; they are stored in few
    transactions): every one is in the file and in the database, none is lost."""

    def refused(_: int) -> int:
        with httpx.Client(base_url=regd.url, timeout=60) as anonymous:
            return anonymous.get(
                "/v2/", headers={"Authorization": "Bearer not.a.token"}
            ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert set(pool.map(refused, range(200))) == {401}
    in_file = [e for e in _file(tmp_path) if e["event"] == "login" and e["outcome"] == "denied"]
    assert len(in_file) == 200
    with regd.client() as admin:
        stored = _events(admin, event="login")
    denied = [e for e in stored if e["outcome"] == "denied"]
    assert len(denied) == 200
    assert len({e["request-id"] for e in denied}) == 200


def test_events_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    server = start_regd(
        tmp_path / "data",
        env={"REGD_AUDIT_RETENTION": "5", "REGD_UPLOAD_SWEEP_INTERVAL": "0.2"},
    )
    try:
        with httpx.Client(base_url=server.url, timeout=60) as anonymous:
            assert anonymous.get("/v2/", auth=("nobody", "wrong-password")).status_code == 401
        with server.client() as admin:
            assert _events(admin, principal="user:nobody")  # recorded ...
            wait_until(  # ... and deleted once older than 5 s
                lambda: not _events(admin, principal="user:nobody"),
                timeout=60,
                what="the old event deleted",
            )
    finally:
        assert server.stop() == 0, server.log
