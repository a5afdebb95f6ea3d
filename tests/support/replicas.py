"""Share-nothing regd replicas for tests: several ``regd serve`` on one PostgreSQL database
and one Swift container, each with its own data directory, behind HAProxy.

HAProxy (Debian's ``haproxy``) runs in the foreground from a generated configuration:
HTTP mode, round robin *per request* (a client's keep-alive connection does not pin it to
one replica), health checks on ``/readyz`` so a killed replica leaves the rotation within
a fraction of a second, and connection failures re-dispatched to another replica. Each
replica listens on a port chosen up front, so a killed one can be started again where
HAProxy expects it.

Every replica gets the same ``REGD_MASTER_KEY`` (in the environment, as an operator would
give it) and nothing else in common but the database URL and the storage URL.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.processes import collect_output, e2e_required
from tests.support.server import RegdProcess, start_regd
from tests.support.swift import SwiftServer
from tests.support.waiting import wait_until

#: Milliseconds between two health checks of one replica by HAProxy. A killed replica
#: refuses connections: two failed checks take it out. A busy one may answer slowly:
#: only a check that gets no answer in ``timeout check`` fails.
CHECK_INTERVAL_MS = 250


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def require_haproxy() -> str:
    """The haproxy binary; the test is skipped (failed under REGD_E2E_REQUIRED=1) without it."""
    found = shutil.which("haproxy") or next(
        (path for path in ("/usr/sbin/haproxy",) if os.access(path, os.X_OK)), None
    )
    if found is None:
        reason = "haproxy is not installed (scripts/install-test-deps)"
        if e2e_required():
            pytest.fail(f"{reason} (REGD_E2E_REQUIRED=1)")
        pytest.skip(reason)
    return found


def haproxy_config(port: int, backends: list[int]) -> str:
    servers = "\n".join(
        f"    server r{index} 127.0.0.1:{backend} check inter {CHECK_INTERVAL_MS}ms fall 1 rise 1"
        for index, backend in enumerate(backends)
    )
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout http-request 120s
    timeout check 10s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend registry
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /readyz
{servers}
"""


@dataclass
class Balancer:
    """A foreground HAProxy in front of the replicas."""

    port: int
    process: subprocess.Popen[str]
    log_lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)  # soft stop: finish what is in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_balancer(binary: str, directory: Path, backends: list[int]) -> Balancer:
    port = _free_port()
    config = directory / "haproxy.cfg"
    config.write_text(haproxy_config(port, backends))
    checked = subprocess.run(
        [binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    process = subprocess.Popen(
        [binary, "-db", "-f", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    balancer = Balancer(port, process)
    collect_output(process, balancer.log_lines)
    wait_until(lambda: _accepts(port) or process.poll() is not None, 30, "HAProxy to listen")
    assert process.poll() is None, "".join(balancer.log_lines)
    return balancer


def new_master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@dataclass
class Replicas:
    """``members[i]`` is replica i (None while it is down); ``front`` is the balancer as a
    registry clients talk to."""

    root: Path
    ports: list[int]
    env: dict[str, str]
    extra: tuple[str, ...]
    members: list[RegdProcess | None]
    balancer: Balancer | None = None

    @property
    def front(self) -> RegdProcess:
        """The balancer, addressed like a regd (``url``, ``host``, ``client()``)."""
        assert self.balancer is not None
        return RegdProcess(self.balancer.url, self.root, self.balancer.process)

    def member(self, index: int) -> RegdProcess:
        found = self.members[index]
        assert found is not None, f"replica {index} is down"
        return found

    def data_dir(self, index: int) -> Path:
        return self.root / f"replica-{index}"

    def start(self, index: int) -> RegdProcess:
        """Start replica ``index`` on its own port and data directory."""
        server = start_regd(
            self.data_dir(index),
            "--addr",
            f"127.0.0.1:{self.ports[index]}",
            *self.extra,
            env=self.env,
        )
        self.members[index] = server
        return server

    def start_all(self) -> None:
        """All replicas at the same moment (they race for the first admin, keys, records)."""
        with ThreadPoolExecutor(len(self.ports)) as pool:
            futures = [pool.submit(self.start, index) for index in range(len(self.ports))]
            errors = []
            for future in futures:
                try:
                    future.result()
                except Exception as error:
                    errors.append(error)
        if errors:
            self.stop()
            raise errors[0]

    def kill(self, index: int) -> RegdProcess:
        """SIGKILL replica ``index``: no drain, no clean-up."""
        server = self.member(index)
        server.stop(signal.SIGKILL)
        self.members[index] = None
        return server

    def stop(self) -> list[tuple[int, str]]:
        """Stop everything; (exit status, log) of each replica that was up."""
        if self.balancer is not None:
            self.balancer.stop()
        stopped = []
        for index, server in enumerate(self.members):
            if server is not None:
                stopped.append((server.stop(), server.log))
                self.members[index] = None
        return stopped


def replica_env(database_url: str, swift: SwiftServer, master_key: str) -> dict[str, str]:
    """What every replica is given: the database, the store's credentials, the master key."""
    return {
        **swift.swift_env(),
        "REGD_DATABASE_URL": database_url,
        "REGD_MASTER_KEY": master_key,
    }


@contextlib.contextmanager
def running_replicas(
    root: Path, count: int, database_url: str, swift: SwiftServer, *extra: str
) -> Iterator[Replicas]:
    """``count`` replicas started at once on an empty database and a new Swift container,
    behind HAProxy; stopped on exit."""
    haproxy = require_haproxy()
    replicas = Replicas(
        root,
        ports=[_free_port() for _ in range(count)],
        env=replica_env(database_url, swift, new_master_key()),
        extra=("--storage-url", swift.swift_url(), *extra),
        members=[None] * count,
    )
    replicas.start_all()
    try:
        replicas.balancer = start_balancer(haproxy, root, replicas.ports)
        yield replicas
    finally:
        replicas.stop()
