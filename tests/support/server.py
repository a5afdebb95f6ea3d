"""Starting a real ``regd serve`` process on a free loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.processes import collect_output

_LISTENING = re.compile(r"regd listening on (https?://\S+)")
#: The password every test regd gives its ``admin`` user (REGD_ADMIN_PASSWORD).
ADMIN_PASSWORD = "admin-password-for-tests"
START_TIMEOUT = 60.0


@dataclass
class RegdProcess:
    """A running ``regd serve`` and what it logged."""

    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    log_lines: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        """``HOST:PORT``, as registry clients want it."""
        return self.url.removeprefix("http://").removeprefix("https://")

    def client(self, auth: tuple[str, str] | None = ("admin", ADMIN_PASSWORD)) -> httpx.Client:
        """An HTTP client, as ``admin`` unless told otherwise (``auth=None``: anonymous)."""
        return httpx.Client(base_url=self.url, timeout=60, auth=auth)

    @property
    def admin_creds(self) -> str:
        """``admin:PASSWORD``, as skopeo's ``--creds`` wants it."""
        return f"admin:{ADMIN_PASSWORD}"

    @property
    def log(self) -> str:
        return "".join(self.log_lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def start_regd(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> RegdProcess:
    """Start ``python -m regd serve`` on a free port and wait for its listening line."""
    full_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "REGD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        **(env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "regd",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    url: str | None = None
    # Read until the listening line; the rest is drained by a thread so the pipe never fills.
    timer = threading.Timer(START_TIMEOUT, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            lines.append(line)
            match = _LISTENING.search(line)
            if match:
                url = match.group(1)
                break
    finally:
        timer.cancel()
    if url is None:
        process.kill()
        raise RuntimeError("regd did not start:\n" + "".join(lines))
    regd = RegdProcess(url=url, data_dir=data_dir, process=process, log_lines=lines)
    collect_output(process, lines)
    return regd


def add_regd_remote(http: httpx.Client, upstream: RegdProcess, override: str = "") -> str:
    """Make ``upstream`` (reached at ``override``, else its own URL) a remote registry of
    the regd ``http`` talks to, with upstream's admin credentials in the Strongbox secret
    ``up/admin``; the remote's name (its prefix in repository names)."""
    assert http.post("/api/v1/strongbox/vaults", json={"name": "up"}).status_code == 201
    secret = {"name": "admin", "data": {"username": "admin", "password": ADMIN_PASSWORD}}
    created = http.post("/api/v1/strongbox/vaults/up/secrets", json=secret)
    assert created.status_code == 201, created.text
    remote = http.post(
        "/api/v1/image-registry/remote-registries",
        json={
            "address": upstream.host,
            "override-address": override or upstream.url,
            "credentials": [{"repository": "*", "vault": "up", "secret": "admin"}],
        },
    )
    assert remote.status_code == 201, remote.text
    return str(remote.json()["name"])
