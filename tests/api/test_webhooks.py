"""Webhooks against a real HTTP receiver the test starts: every event once, in order, in
distribution's envelope, signed; a failing receiver is retried, a hanging one never holds up
a push; queued events survive a restart; a full queue drops its oldest."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.oci import push_image
from tests.support.server import start_regd
from tests.support.waiting import wait_until

SECRET = "a-webhook-secret-of-some-length"
FAST = {"REGD_WEBHOOK_TIMEOUT": "2", "REGD_WEBHOOK_RETRIES": "4"}


@dataclass
class Receiver:
    """An HTTP server recording what is POSTed; it can fail, or hang until released."""

    server: ThreadingHTTPServer
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    failures_left: int = 0
    hang: threading.Event | None = None
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            bodies = [body for _, body in self.received]
        return [event for body in bodies for event in json.loads(body)["events"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.in_flight += 1
                failing = state.failures_left > 0
                if failing:
                    state.failures_left -= 1
            hang = state.hang
            if hang is not None:
                hang.wait(30)
            with state.lock:
                state.in_flight -= 1
                if not failing and hang is None:
                    state.received.append((dict(self.headers), body))
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    if state.hang is not None:
        state.hang.set()
    server.shutdown()
    server.server_close()


def _webhook(http: httpx.Client, receiver: Receiver, **extra: Any) -> None:
    body = {"name": "ci", "url": receiver.url, **extra}
    created = http.post("/api/v1/webhooks", json=body)
    assert created.status_code == 201, created.text


def _deliveries(http: httpx.Client, name: str = "ci") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = http.get(f"/api/v1/webhooks/{name}/deliveries").json()
    return found


def test_each_event_once_in_order_signed(receiver: Receiver, tmp_path: Path) -> None:
    regd = start_regd(tmp_path / "data", env=FAST)
    try:
        with regd.client() as http:
            _webhook(
                http,
                receiver,
                repositories="hooks/*",
                secret=SECRET,
                headers={"Authorization": "Bearer receiver-token"},
                events=["push", "tag", "pull", "delete"],
            )
            shown = http.get("/api/v1/webhooks/ci").json()
            assert shown["headers"] == ["Authorization"]  # names only
            assert shown["signed"] is True
            assert "receiver-token" not in json.dumps(shown) + json.dumps(
                http.get("/api/v1/webhooks").json()
            )
            images = [push_image(http, "hooks/app", f"v{i}", seed=f"s{i}") for i in range(3)]
            push_image(http, "other/app", "v1")  # not matched by the glob
            manifest_type = "application/vnd.oci.image.manifest.v1+json"
            pulled = http.get("/v2/hooks/app/manifests/v1", headers={"Accept": manifest_type})
            assert pulled.status_code == 200
            assert http.delete(f"/v2/hooks/app/manifests/{images[2].digest}").status_code == 202
            wait_until(lambda: len(receiver.events()) >= 8, 30, "8 events")
            wait_until(
                lambda: all(d["outcome"] == "delivered" for d in _deliveries(http)), 30, "history"
            )
            history = _deliveries(http)
    finally:
        assert regd.stop() == 0, regd.log
    events = receiver.events()
    assert [(e["action"], e["target"].get("tag")) for e in events] == [
        ("push", "v0"),
        ("tag", "v0"),
        ("push", "v1"),
        ("tag", "v1"),
        ("push", "v2"),
        ("tag", "v2"),
        ("pull", "v1"),
        ("delete", None),
    ], [(e["action"], e["target"]) for e in events]
    assert len({e["id"] for e in events}) == len(events)  # each once
    assert all(e["target"]["repository"] == "hooks/app" for e in events)
    push = events[0]
    assert push["target"]["digest"] == images[0].digest
    assert push["target"]["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert push["target"]["size"] == len(images[0].manifest)
    assert push["target"]["url"].endswith(f"/v2/hooks/app/manifests/{images[0].digest}")
    assert push["actor"] == {"name": "admin"}
    assert push["request"]["method"] == "PUT"
    assert events[-1]["target"]["digest"] == images[2].digest
    for headers, body in receiver.received:
        assert headers["Content-Type"] == "application/vnd.docker.distribution.events.v1+json"
        assert headers["Authorization"] == "Bearer receiver-token"
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Regd-Signature-256"] == f"sha256={expected}"
    assert len(history) == len(events)
    assert {d["attempts"] for d in history} == {1}


def test_a_failing_receiver_is_retried(receiver: Receiver, tmp_path: Path) -> None:
    receiver.failures_left = 2
    regd = start_regd(tmp_path / "data", env=FAST)
    try:
        with regd.client() as http:
            _webhook(http, receiver, events=["push"])
            image = push_image(http, "retry/app", "1")
            wait_until(lambda: len(receiver.events()) == 1, 30, "the event after two failures")
            wait_until(lambda: _deliveries(http)[0]["outcome"] == "delivered", 10, "history")
            history = _deliveries(http)
    finally:
        assert regd.stop() == 0, regd.log
    assert receiver.events()[0]["target"]["digest"] == image.digest
    assert [(d["outcome"], d["attempts"], d["status"]) for d in history] == [("delivered", 3, 200)]


def test_a_hanging_receiver_never_holds_up_a_push(receiver: Receiver, tmp_path: Path) -> None:
    receiver.hang = threading.Event()
    regd = start_regd(tmp_path / "data", env={**FAST, "REGD_WEBHOOK_QUEUE_SIZE": "2"})
    try:
        with regd.client() as http:
            _webhook(http, receiver, events=["push"])
            push_image(http, "hang/app", "1", seed="a")
            wait_until(lambda: receiver.in_flight == 1, 10, "the receiver holding a delivery")
            for i in range(4):  # pushes answered while the receiver holds the first event
                push_image(http, "hang/app", f"more{i}", seed=f"b{i}")
                assert receiver.in_flight == 1
            outcomes = [d["outcome"] for d in _deliveries(http)]
            assert outcomes.count("queued") == 2  # the queue holds two
            assert outcomes.count("dropped") == 3  # the oldest went
    finally:
        receiver.hang.set()
        assert regd.stop() == 0, regd.log


def test_queued_events_survive_a_restart(receiver: Receiver, tmp_path: Path) -> None:
    receiver.failures_left = 1000  # down
    regd = start_regd(tmp_path / "data", env={**FAST, "REGD_WEBHOOK_RETRIES": "1000"})
    with regd.client() as http:
        _webhook(http, receiver, events=["push"])
        image = push_image(http, "restart/app", "1")
        wait_until(lambda: _deliveries(http)[0]["attempts"] >= 1, 10, "a failed attempt")
        queued = _deliveries(http)
    assert regd.stop() == 0, regd.log
    assert [d["outcome"] for d in queued] == ["queued"]
    receiver.failures_left = 0  # up again
    again = start_regd(tmp_path / "data", env=FAST)
    try:
        with again.client() as http:
            wait_until(lambda: len(receiver.events()) == 1, 30, "the queued event")
            wait_until(lambda: _deliveries(http)[0]["outcome"] == "delivered", 10, "history")
            assert _deliveries(http)[0]["event-id"] == queued[0]["event-id"]
    finally:
        assert again.stop() == 0, again.log
    event = receiver.events()[0]
    assert event["id"] == queued[0]["event-id"]
    assert event["target"]["digest"] == image.digest


def test_bad_endpoints_are_refused(tmp_path: Path) -> None:
    regd = start_regd(tmp_path / "data")
    try:
        with regd.client() as http:
            for body in (
                {"name": "x"},
                {"name": "x", "url": "ftp://a"},
                {"name": "x", "url": "http://a", "events": ["explode"]},
                {"name": "x", "url": "http://a", "secret": "short"},
                {"name": "X Y", "url": "http://a"},
                {"name": "x", "url": "http://a", "colour": "red"},
            ):
                answer = http.post("/api/v1/webhooks", json=body)
                assert answer.status_code == 400, (body, answer.text)
                assert answer.headers["Content-Type"] == "application/problem+json"
            assert (
                http.post("/api/v1/webhooks", json={"name": "x", "url": "http://a"}).status_code
                == 201
            )
            assert (
                http.post("/api/v1/webhooks", json={"name": "x", "url": "http://a"}).status_code
                == 409
            )
            assert http.get("/api/v1/webhooks/nope").status_code == 404
            assert http.delete("/api/v1/webhooks/x").status_code == 204
            assert http.get("/api/v1/webhooks").json() == []
    finally:
        assert regd.stop() == 0


def test_regctl_creates_lists_and_shows_deliveries(receiver: Receiver, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.support.server import ADMIN_PASSWORD

    regd = start_regd(tmp_path / "data", env=FAST)
    env = {
        **os.environ,
        "REGCTL_SERVER": regd.url,
        "REGCTL_USERNAME": "admin",
        "REGCTL_PASSWORD": ADMIN_PASSWORD,
        "REGCTL_CONFIG": str(tmp_path / "regctl.yaml"),
    }

    def regctl(*args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "regctl", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    try:
        hook = f"name: by-path\nurl: {receiver.url}\nevents: [push]\nrepositories: 'cli/*'\n"
        regctl("create", "webhooks", stdin=hook)
        regctl(
            "webhooks",
            "create",
            "by-noun",
            "--url",
            receiver.url,
            "--event",
            "tag,delete",
            "--header",
            "X-Team=ops",
            "--secret-stdin",
            stdin=SECRET + "\n",
        )
        listed = json.loads(regctl("webhooks", "list", "-o", "json"))
        assert [(w["name"], w["events"], w["signed"]) for w in listed] == [
            ("by-noun", ["delete", "tag"], True),
            ("by-path", ["push"], False),
        ]
        assert regctl("list", "webhooks") == "- by-noun\n- by-path\n"
        with regd.client() as http:
            push_image(http, "cli/app", "1")
        wait_until(lambda: len(receiver.events()) == 2, 30, "push and tag")
        wait_until(
            lambda: (
                len(json.loads(regctl("webhooks", "deliveries", "by-path", "-o", "json"))) == 1
                and json.loads(regctl("webhooks", "deliveries", "by-path", "-o", "json"))[0][
                    "outcome"
                ]
                == "delivered"
            ),
            30,
            "a delivery in the history",
        )
        shown = regctl("show", "webhooks", "by-path", "deliveries")
        assert "outcome: delivered" in shown
        regctl("webhooks", "delete", "by-noun")
        assert regctl("list", "webhooks") == "- by-path\n"
    finally:
        assert regd.stop() == 0, regd.log
