"""Upstream registries for pull-through tests, on loopback.

- :func:`start_docker_registry`: Debian's ``docker-registry`` (distribution 2.x) on a free
  port, with htpasswd Basic auth (``htpasswd -Bbn``) and its access log parsed.
- :class:`FaultyProxy`: a small aiohttp reverse proxy (in a thread of its own) in front of an
  upstream that records every request, and can be switched to answer 429/503 for everything,
  to hold blob GETs until released, or to flip a byte of chosen blobs.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiohttp import ClientSession, ClientTimeout, web
from multidict import CIMultiDict

from tests.support.access_log import logged_request
from tests.support.processes import collect_output
from tests.support.waiting import WAIT_TIMEOUT, wait_until


@dataclass(frozen=True)
class UpstreamRequest:
    method: str
    path: str
    status: int
    #: The Authorization scheme sent (``Basic``, ``Bearer``; empty: none); FaultyProxy only.
    scheme: str = field(default="", compare=False)


# -- Debian's docker-registry --------------------------------------------------------------

_LISTENING = re.compile(r"listening on (\S+:\d+)")
_SYNC = "regd-test-sync"

_CONFIG = """\
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
auth:
  htpasswd:
    realm: docker-registry-test
    path: {htpasswd}
"""


@dataclass
class DockerRegistry:
    """A running ``docker-registry serve`` and its log (drained by a thread)."""

    url: str
    directory: Path
    username: str
    password: str
    process: subprocess.Popen[str]
    log_lines: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    @property
    def creds(self) -> str:
        return f"{self.username}:{self.password}"

    @property
    def log(self) -> str:
        return "".join(self.log_lines)

    def requests(self) -> list[UpstreamRequest]:
        """Every request its access log shows, test synchronisation requests left out."""
        found = []
        for line in list(self.log_lines):
            logged = logged_request(line)  # Apache's combined format
            if logged is None or _SYNC in logged.url.params:
                continue
            found.append(UpstreamRequest(logged.method, logged.url.path, logged.status))
        return found

    def synced_requests(self) -> list[UpstreamRequest]:
        """:meth:`requests`, once every request answered so far has reached the log.

        A request of our own, made after the others were answered, is logged after them.
        """
        marker = uuid.uuid4().hex
        httpx.get(f"{self.url}/v2/", params={_SYNC: marker}, timeout=10)
        wait_until(lambda: marker in self.log, WAIT_TIMEOUT, f"docker-registry to log {marker}")
        return self.requests()

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)


def start_docker_registry(
    binary: str,
    directory: Path,
    username: str,
    password: str,
    *,
    port: int = 0,
) -> DockerRegistry:
    """Start ``docker-registry`` with htpasswd auth for ``username``; wait until it listens."""
    directory.mkdir(parents=True, exist_ok=True)
    htpasswd = directory / "htpasswd"
    made = subprocess.run(
        ["htpasswd", "-Bbn", username, password], capture_output=True, text=True, check=True
    )
    htpasswd.write_text(made.stdout)
    config = directory / "config.yml"
    config.write_text(_CONFIG.format(root=directory / "storage", port=port, htpasswd=htpasswd))
    process = subprocess.Popen(
        [binary, "serve", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    url = None
    timer = threading.Timer(WAIT_TIMEOUT, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            lines.append(line)
            match = _LISTENING.search(line)
            if match:
                url = f"http://{match.group(1)}"
                break
    finally:
        timer.cancel()
    if url is None:
        process.kill()
        raise RuntimeError("docker-registry did not start:\n" + "".join(lines))
    registry = DockerRegistry(url, directory, username, password, process, lines)
    collect_output(process, lines)
    # Listening is logged just before Serve: wait until it answers.
    wait_until(lambda: _answers(url), WAIT_TIMEOUT, f"docker-registry at {url}")
    return registry


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/", params={_SYNC: "start"}, timeout=2).status_code == 401
    except httpx.TransportError:
        return False


# -- a faulting proxy ----------------------------------------------------------------------

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}
)
_BLOB_PATH = re.compile(r"^/v2/.+/blobs/(?P<digest>[a-z0-9]+:[a-f0-9]+)$")
_MANIFEST_PATH = re.compile(r"^/v2/.+/manifests/[^/]+$")


class FaultyProxy:
    """A reverse proxy to ``upstream`` that records requests and injects faults.

    - ``fault``: a status (429, 503) answered to every request instead of forwarding it.
    - ``corrupt``: blob digests whose GET bodies get one byte flipped (same length).
    - ``hold_blobs()``: blob GETs wait (recorded already) until ``release_blobs()``;
      ``hold_manifests()`` / ``release_manifests()`` likewise for manifest GETs and HEADs.
    - ``hang()``: every request (``hang(only)``: whose path and query hold ``only``) waits
      unanswered, its body unread (a server that stopped responding), until ``unhang()``;
      then it is answered 504 without being forwarded.
    """

    def __init__(
        self, upstream: str, tls: ssl.SSLContext | None = None, preserve_host: bool = False
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self._tls = tls  # answer HTTPS with this server context (regd.tls.server_context)
        #: Forward the client's Host header (signed by S3 clients; Swift's tempauth builds
        #: the storage URL from it, so the data path goes through this proxy too).
        self.preserve_host = preserve_host
        self.fault: int | None = None
        self.corrupt: set[str] = set()
        self._records: list[UpstreamRequest] = []
        self._lock = threading.Lock()
        self._held = threading.Event()
        self._held.set()
        self._manifests_held = threading.Event()
        self._manifests_held.set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._hang_only = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.url = ""

    # -- what the tests use ----------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://").removeprefix("https://")

    def requests(self) -> list[UpstreamRequest]:
        """Every request received so far (status 0: still being answered)."""
        with self._lock:
            return list(self._records)

    def blob_gets(self, digest: str) -> int:
        """How many GETs of blob ``digest`` (in any repository) reached the proxy."""
        return sum(
            1
            for r in self.requests()
            if r.method == "GET"
            and r.path.startswith("/v2/")
            and r.path.endswith(f"/blobs/{digest}")
        )

    def hold_blobs(self) -> None:
        self._held.clear()

    def release_blobs(self) -> None:
        self._held.set()

    def hold_manifests(self) -> None:
        self._manifests_held.clear()

    def release_manifests(self) -> None:
        self._manifests_held.set()

    def hang(self, only: str = "") -> None:
        self._hang_only = only
        self._flowing.clear()

    def unhang(self) -> None:
        self._flowing.set()

    def manifest_requests(self, path_end: str) -> list[UpstreamRequest]:
        """Manifest GETs and HEADs whose path ends with ``path_end``."""
        return [
            r
            for r in self.requests()
            if _MANIFEST_PATH.match(r.path) and r.path.endswith(f"/manifests/{path_end}")
        ]

    def start(self) -> FaultyProxy:
        self._thread.start()
        if not self._ready.wait(WAIT_TIMEOUT):
            raise RuntimeError("the faulty proxy did not start")
        return self

    def stop(self) -> None:
        self.release_blobs()
        self.release_manifests()
        self.unhang()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread.is_alive():
            self._thread.join(WAIT_TIMEOUT)

    # -- the server --------------------------------------------------------------------------

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        runner = loop.run_until_complete(self._start_server())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._session.close())
            loop.run_until_complete(runner.cleanup())
            loop.close()

    async def _start_server(self) -> web.AppRunner:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self._tls)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"{'https' if self._tls else 'http'}://127.0.0.1:{port}"
        self._session = ClientSession(timeout=ClientTimeout(total=60), auto_decompress=False)
        return runner

    def _record(self, request: web.Request) -> int:
        with self._lock:
            scheme = request.headers.get("Authorization", "").split(" ", 1)[0]
            self._records.append(UpstreamRequest(request.method, request.path, 0, scheme))
            return len(self._records) - 1

    def _answered(self, index: int, status: int) -> None:
        with self._lock:
            old = self._records[index]
            self._records[index] = UpstreamRequest(old.method, old.path, status, old.scheme)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        index = self._record(request)
        if not self._flowing.is_set() and self._hang_only in request.path_qs:
            await asyncio.get_running_loop().run_in_executor(None, self._flowing.wait)
            self._answered(index, 504)
            return web.Response(status=504)
        blob = _BLOB_PATH.match(request.path)
        if blob is not None and request.method == "GET" and not self._held.is_set():
            await asyncio.get_running_loop().run_in_executor(None, self._held.wait)
        if _MANIFEST_PATH.match(request.path) and not self._manifests_held.is_set():
            await asyncio.get_running_loop().run_in_executor(None, self._manifests_held.wait)
        fault = self.fault
        if fault is not None:
            self._answered(index, fault)
            headers = {"Retry-After": "1"} if fault == 429 else {}
            return web.json_response(
                {
                    "errors": [
                        {
                            "code": "TOOMANYREQUESTS" if fault == 429 else "UNAVAILABLE",
                            "message": "injected by the test proxy",
                        }
                    ]
                },
                status=fault,
                headers=headers,
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        if self.preserve_host:
            headers["Host"] = request.host
        body = await request.read()
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body or None,
            allow_redirects=False,
        ) as response:
            content = await response.read()
            status = response.status
            out = [(k, v) for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP]
            length = response.headers.get("Content-Length")
        if (
            blob is not None
            and request.method == "GET"
            and status == 200
            and blob["digest"] in self.corrupt
            and content
        ):
            flipped = bytearray(content)
            flipped[len(flipped) // 2] ^= 0xFF
            content = bytes(flipped)
        self._answered(index, status)
        answer_headers = CIMultiDict(out)
        if request.method == "HEAD":
            if length is not None:
                answer_headers["Content-Length"] = length
            return web.Response(status=status, headers=answer_headers)
        return web.Response(status=status, body=content, headers=answer_headers)
