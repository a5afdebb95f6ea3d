"""A throwaway OpenStack Swift all-in-one for tests: Debian's packages, no systemd.

One account, one container and one object server plus a proxy and memcached, all on free
loopback ports, storing in a temporary directory (``mount_check = false``, no XFS needed).
The proxy's pipeline has ``tempauth`` (v1 auth: ``ST_AUTH``/``ST_USER``/``ST_KEY``),
``s3api`` (the S3 API, AWS credentials ``test:tester`` / ``testing``), ``slo`` and
``tempurl``, so one server answers both the native and the S3 API.

Swift's servers drop privileges to the configured ``user``: the current user (root in CI,
which Swift accepts). The rings are built by Debian's ``/usr/bin/python3`` (where the
``swift`` package lives), not by the test virtualenv's interpreter.

Missing packages skip the tests that need them, unless ``REGD_E2E_REQUIRED=1`` turns the
skip into a failure (``scripts/install-test-deps`` installs them). Use the session fixture
``swift_server`` by importing ``swift_server_fixture`` into a conftest or test module.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.processes import e2e_required
from tests.support.server import RegdProcess, start_regd

START_TIMEOUT = 60.0
SYSTEM_PYTHON = "/usr/bin/python3"
ACCOUNT, USER, KEY = "test", "tester", "testing"
REGION = "us-east-1"

_RING_SCRIPT = """
import sys
from swift.common.ring import RingBuilder
swift_dir = sys.argv[1]
for spec in sys.argv[2:]:
    kind, port = spec.split("=")
    builder = RingBuilder(6, 1, 0)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1",
                     "port": int(port), "device": "d1", "weight": 100})
    builder.rebalance()
    builder.get_ring().save(f"{swift_dir}/{kind}.ring.gz")
"""

_SERVER_CONF = """\
[DEFAULT]
devices = {root}/srv
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = {user}
swift_dir = {root}/etc
log_level = WARNING

[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}
"""

_PROXY_CONF = """\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = {user}
swift_dir = {root}/etc
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk \
tempurl s3api tempauth copy container-quotas slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:tempauth]
use = egg:swift#tempauth
user_{account}_{user_name} = {key} .admin
user_admin_admin = admin .admin .reseller_admin

[filter:s3api]
use = egg:swift#s3api
location = {region}

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached_port}

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:copy]
use = egg:swift#copy
[filter:container-quotas]
use = egg:swift#container_quotas
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def missing_packages() -> list[str]:
    """What of Swift's Debian packages this machine lacks (names of binaries)."""
    needed = ["swift-proxy-server", "swift-account-server", "swift-container-server"]
    needed += ["swift-object-server", "memcached"]
    missing = [name for name in needed if shutil.which(name) is None]
    if not Path(SYSTEM_PYTHON).exists():
        missing.append(SYSTEM_PYTHON)
    return missing


@dataclass
class SwiftServer:
    """A running all-in-one; credentials for both APIs."""

    root: Path
    proxy_port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        """The proxy's base URL: S3 endpoint, and the host of the v1 auth URL."""
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def auth_url(self) -> str:
        return f"{self.endpoint}/auth/v1.0"

    @property
    def user(self) -> str:
        return f"{ACCOUNT}:{USER}"

    @property
    def key(self) -> str:
        return KEY

    def swift_env(self) -> dict[str, str]:
        """v1 credentials the way the ``swift`` command line takes them."""
        return {"ST_AUTH": self.auth_url, "ST_USER": self.user, "ST_KEY": self.key}

    def s3_env(self) -> dict[str, str]:
        """AWS-style credentials for the s3api middleware (tempauth user and key)."""
        return {"AWS_ACCESS_KEY_ID": self.user, "AWS_SECRET_ACCESS_KEY": self.key}

    def swift_url(self, container: str | None = None) -> str:
        """A ``storage_url`` for the native driver (a new container unless named)."""
        return f"swift://{container or 'regd-' + uuid.uuid4().hex[:10]}"

    def s3_url(self, bucket: str | None = None) -> str:
        """A ``storage_url`` for the S3 driver (a new bucket unless named)."""
        name = bucket or "regd-" + uuid.uuid4().hex[:10]
        return f"s3://{name}?endpoint={self.endpoint}&region={REGION}"

    def token(self) -> tuple[str, str]:
        """(storage URL, token) from v1 auth, for assertions on stored objects."""
        response = httpx.get(
            self.auth_url, headers={"X-Auth-User": self.user, "X-Auth-Key": self.key}
        )
        response.raise_for_status()
        return response.headers["X-Storage-Url"], response.headers["X-Auth-Token"]

    def set_quota(self, container: str, quota_bytes: int | None) -> None:
        """Set (None: remove) the container's byte quota (container_quotas middleware)."""
        storage, token = self.token()
        value = "" if quota_bytes is None else str(quota_bytes)
        headers = {"X-Auth-Token": token, "X-Container-Meta-Quota-Bytes": value}
        httpx.post(f"{storage}/{container}", headers=headers).raise_for_status()

    def list_objects(self, container: str, prefix: str = "") -> list[str]:
        storage, token = self.token()
        response = httpx.get(
            f"{storage}/{container}",
            params={"prefix": prefix, "format": "json"},
            headers={"X-Auth-Token": token},
        )
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return [entry["name"] for entry in response.json()]

    @property
    def log(self) -> str:
        return "".join(path.read_text(errors="replace") for path in sorted(self.root.glob("*.log")))

    def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _spawn(server: SwiftServer, name: str, args: list[str]) -> None:
    log = (server.root / f"{name}.log").open("wb")
    server.processes.append(
        subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=server.root
        )
    )


def _wait_ready(server: SwiftServer) -> None:
    """Until v1 auth answers and a container can be created and listed."""
    deadline = time.monotonic() + START_TIMEOUT
    error: Exception | None = None
    while time.monotonic() < deadline:
        for process in server.processes:
            if process.poll() is not None:
                raise RuntimeError(f"a Swift process exited {process.returncode}:\n{server.log}")
        try:
            storage, token = server.token()
            headers = {"X-Auth-Token": token}
            created = httpx.put(f"{storage}/ready-probe", headers=headers)
            if created.status_code in (201, 202):
                listed = httpx.get(f"{storage}/ready-probe", headers=headers)
                if listed.status_code in (200, 204):
                    return
            error = RuntimeError(f"PUT container: {created.status_code} {created.text}")
        except httpx.HTTPError as problem:
            error = problem
        time.sleep(0.1)  # polling a condition (readiness), not synchronising on time
    raise RuntimeError(f"Swift did not become ready in {START_TIMEOUT} s: {error}\n{server.log}")


def start_swift(root: Path) -> SwiftServer:
    """Build rings and configs under ``root``, start every process, wait until ready."""
    ports = {kind: _free_port() for kind in ("account", "container", "object")}
    memcached_port = _free_port()
    server = SwiftServer(root, _free_port())
    etc = root / "etc"
    (root / "srv" / "d1").mkdir(parents=True)
    etc.mkdir()
    subprocess.run(
        [SYSTEM_PYTHON, "-c", _RING_SCRIPT, str(etc), *(f"{k}={p}" for k, p in ports.items())],
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT,
    )
    user = getpass.getuser()
    for kind, port in ports.items():
        conf = etc / f"{kind}-server.conf"
        conf.write_text(_SERVER_CONF.format(root=root, port=port, user=user, kind=kind))
    proxy_conf = etc / "proxy-server.conf"
    proxy_conf.write_text(
        _PROXY_CONF.format(
            root=root,
            port=server.proxy_port,
            user=user,
            account=ACCOUNT,
            user_name=USER,
            key=KEY,
            region=REGION,
            memcached_port=memcached_port,
        )
    )
    try:
        memcached = ["memcached", "-l", "127.0.0.1", "-p", str(memcached_port), "-U", "0"]
        _spawn(server, "memcached", [*memcached, "-m", "16", "-u", user])
        for kind in ports:
            _spawn(server, kind, [f"swift-{kind}-server", str(etc / f"{kind}-server.conf")])
        _spawn(server, "proxy", ["swift-proxy-server", str(proxy_conf)])
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running_swift() -> Iterator[SwiftServer]:
    """A Swift all-in-one in a new temporary directory, stopped and deleted on exit."""
    root = Path(tempfile.mkdtemp(prefix="regd-swift-"))
    try:
        server = start_swift(root)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", name="swift_server")
def swift_server_fixture() -> Iterator[SwiftServer]:
    missing = missing_packages()
    if missing:
        reason = f"OpenStack Swift is not installed (missing {', '.join(missing)})"
        if e2e_required():
            pytest.fail(f"{reason} (REGD_E2E_REQUIRED=1)")
        pytest.skip(reason)
    with running_swift() as server:
        yield server


def regd_on_object_storage(
    swift: SwiftServer,
    driver: str,
    data_dir: Path,
    *extra: str,
    url: str | None = None,
    env: dict[str, str] | None = None,
) -> RegdProcess:
    """A ``regd serve`` whose blobs live in a new container (``swift``) or bucket (``s3``)
    of ``swift`` (or at ``url``), with the credentials in its environment."""
    if driver == "swift":
        storage_url, credentials = url or swift.swift_url(), swift.swift_env()
    else:
        storage_url, credentials = url or swift.s3_url(), swift.s3_env()
    return start_regd(
        data_dir, "--storage-url", storage_url, *extra, env={**credentials, **(env or {})}
    )
