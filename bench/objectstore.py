#!/usr/bin/env python3
"""regd on object storage against docker-registry and against the object store itself.

    .venv/bin/python bench/objectstore.py                  # 1 GiB blobs, one round
    .venv/bin/python bench/objectstore.py --big-mib 256 --rounds 3

One Swift all-in-one (tests/support/swift.py: tempauth + s3api + slo, one process per
server) serves every target, one after the other:

- ``regd-swift`` / ``regd-s3``: ``regd serve --storage-url swift://…`` / ``s3://…?endpoint=``;
- ``ref-swift`` / ``ref-s3``: Debian's ``docker-registry`` (distribution 2.8) with its
  ``swift`` and ``s3`` drivers (redirects off, as regd's ``storage_redirect`` is by default);
- ``regd-fs``: regd on its data directory, for the manifest GET figure only;
- ``raw-swift`` / ``raw-s3``: a plain upload and download of the same big file with the
  client library regd uses (aiohttp with the token; aiobotocore), no registry in between.

Scenarios: one big blob pushed (POST + one ``PUT ?digest=`` with the whole file) and pulled,
``--small`` blobs of ``--small-mib`` pushed at once (one thread per push, each two curl
calls), and manifest GETs with wrk. All registry traffic comes from curl and wrk; regd is
reached with registry tokens from its ``/token`` service, docker-registry without
authentication. Peak RSS is VmHWM of the server process. Raw figures go to
``bench/results/objectstore-*.json`` (git-ignored). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.swift import REGION, SwiftServer, running_swift  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MiB = 1 << 20
PASSWORD = "bench-password-0123456789"
AUTH = f"admin:{PASSWORD}"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TARGETS = ("regd-swift", "ref-swift", "regd-s3", "ref-s3", "regd-fs", "raw-swift", "raw-s3")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {done.returncode}: {done.stderr.strip()[-1500:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes; their sha256 digest."""
    hasher = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(left, 8 * MiB))
            hasher.update(block)
            out.write(block)
            left -= len(block)
    return f"sha256:{hasher.hexdigest()}"


# -- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    base: str
    service: str | None  # regd's token service; None: docker-registry, no authentication

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} during start-up")
        if condition():
            return
        time.sleep(0.1)  # polling a condition
    raise RuntimeError(f"{what} did not start within 60 s")


def _answers(url: str) -> bool:
    code = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", AUTH, url],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return code == "200"


def start_regd(work: Path, name: str, storage_url: str, env: dict[str, str]) -> Server:
    logfile = work / f"{name}.log"
    cmd = [sys.executable, "-m", "regd", "serve", "--addr", "127.0.0.1:0"]
    cmd += ["--data-dir", str(work / f"{name}-data")]
    if storage_url:
        cmd += ["--storage-url", storage_url]
    with logfile.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env={**os.environ, **env, "REGD_ADMIN_PASSWORD": PASSWORD},
        )
    found: list[str] = []

    def listening() -> bool:
        match = re.search(r"regd listening on (http://\S+)", logfile.read_text(errors="replace"))
        if match:
            found.append(match.group(1))
        return bool(match) and _answers(match.group(1) + "/v2/")

    _wait_for(listening, proc, f"{name} (see {logfile})")
    base = found[-1]
    challenge = run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%header{www-authenticate}", base + "/v2/"]
    )
    service = re.search(r'service="([^"]*)"', challenge)
    if service is None:
        raise RuntimeError(f"regd sent no Bearer challenge: {challenge!r}")
    return Server(name, proc, base, service.group(1))


def start_reference(work: Path, name: str, swift: SwiftServer, container: str) -> Server:
    """docker-registry with its swift or s3 driver on the all-in-one; no redirects."""
    port = free_port()
    if name == "ref-swift":
        driver = (
            f"  swift:\n    username: {swift.user}\n    password: {swift.key}\n"
            f"    authurl: {swift.auth_url}\n    container: {container}\n"
        )
    else:
        driver = (
            f"  s3:\n    accesskey: {swift.user}\n    secretkey: {swift.key}\n"
            f"    region: {REGION}\n    regionendpoint: {swift.endpoint}\n"
            f"    bucket: {container}\n    secure: false\n    v4auth: true\n"
        )
    config = work / f"{name}.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: warn\nhttp:\n  addr: 127.0.0.1:{port}\n"
        f"storage:\n{driver}  delete:\n    enabled: true\n  redirect:\n    disable: true\n"
    )
    with (work / f"{name}.log").open("wb") as out:
        # The AWS SDK of distribution 2.8 panics on AWS_CA_BUNDLE with its own transport.
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=out, stderr=out, env=env
        )
    base = f"http://127.0.0.1:{port}"
    _wait_for(lambda: _answers(base + "/v2/"), proc, name)
    return Server(name, proc, base, None)


# -- the load (curl, wrk) --------------------------------------------------------------------


class Client:
    """curl/wrk against one registry, with a token for regd."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def token(self, repo: str) -> str | None:
        if self.server.service is None:
            return None
        url = f"{self.server.base}/token?service={self.server.service}"
        url += f"&scope=repository:{repo}:pull,push"
        return str(json.loads(run(["curl", "-sS", "-f", "-u", AUTH, url]))["token"])

    @staticmethod
    def auth(token: str | None) -> list[str]:
        return ["-H", f"Authorization: Bearer {token}"] if token else []

    def _absolute(self, location: str) -> str:
        return self.server.base + location if location.startswith("/") else location

    def push(self, token: str | None, repo: str, digest: str, path: Path) -> None:
        """POST a session, then one PUT ?digest= with the whole file."""
        curl = ["curl", "-sS", "--fail-with-body", "-o", "/dev/null", "-H", "Expect:"]
        curl += self.auth(token)
        location = self._absolute(
            run(
                [
                    *curl,
                    "-X",
                    "POST",
                    "-w",
                    "%header{location}",
                    f"{self.server.base}/v2/{repo}/blobs/uploads/",
                ]
            )
        )
        joiner = "&" if "?" in location else "?"
        code = run(
            [
                *curl,
                *("-X", "PUT", "-w", "%{http_code}", "-T", str(path)),
                *("-H", "Content-Type: application/octet-stream"),
                f"{location}{joiner}digest={digest}",
            ]
        )
        if code != "201":
            raise RuntimeError(f"{self.server.name}: push {digest}: HTTP {code}")

    def pull(self, token: str | None, repo: str, digest: str, size: int) -> None:
        url = f"{self.server.base}/v2/{repo}/blobs/{digest}"
        got = run(
            [
                "curl",
                "-sS",
                "-f",
                "-o",
                "/dev/null",
                "-w",
                "%{size_download}",
                *self.auth(token),
                url,
            ]
        )
        if int(got) != size:
            raise RuntimeError(f"{self.server.name}: pulled {got} bytes of {size}")

    def put_manifest(self, token: str | None, repo: str, body: bytes, work: Path) -> None:
        path = work / "manifest.json"
        path.write_bytes(body)
        run(
            [
                *("curl", "-sS", "-f", "-o", "/dev/null", "-X", "PUT", *self.auth(token)),
                *("-H", f"Content-Type: {OCI_MANIFEST}", "--data-binary", f"@{path}"),
                f"{self.server.base}/v2/{repo}/manifests/v1",
            ]
        )

    def wrk(self, token: str | None, path: str, seconds: int, connections: int) -> float:
        cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s"]
        cmd += ["-H", f"Accept: {OCI_MANIFEST}"]
        if token:
            cmd += ["-H", f"Authorization: Bearer {token}"]
        out = run([*cmd, self.server.base + path])
        if "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError(f"{self.server.name}: wrk saw errors:\n{out}")
        found = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if found is None:
            raise RuntimeError(f"wrk printed no rate:\n{out}")
        return float(found.group(1))


# -- the object store's own speed ------------------------------------------------------------


async def raw_swift(swift: SwiftServer, container: str, path: Path, size: int) -> dict[str, float]:
    import aiohttp

    storage, token = swift.token()
    headers = {"X-Auth-Token": token}
    url = f"{storage}/{container}/raw-big"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        async with session.put(f"{storage}/{container}", headers=headers) as response:
            response.raise_for_status()
        with path.open("rb") as body:
            started = time.perf_counter()
            async with session.put(url, data=body, headers=headers) as response:
                response.raise_for_status()
            up = time.perf_counter() - started
        started = time.perf_counter()
        got = 0
        async with session.get(url, headers=headers) as response:
            response.raise_for_status()
            async for chunk in response.content.iter_chunked(MiB):
                got += len(chunk)
        down = time.perf_counter() - started
    assert got == size, (got, size)
    return {"push_mibs": size / MiB / up, "pull_mibs": size / MiB / down}


async def raw_s3(swift: SwiftServer, bucket: str, path: Path, size: int) -> dict[str, float]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        read_timeout=300,
    )
    session = get_session()
    async with session.create_client(
        "s3",
        endpoint_url=swift.endpoint,
        region_name=REGION,
        aws_access_key_id=swift.user,
        aws_secret_access_key=swift.key,
        config=config,
    ) as client:
        await client.create_bucket(Bucket=bucket)
        with path.open("rb") as body:
            started = time.perf_counter()
            await client.put_object(Bucket=bucket, Key="raw-big", Body=body)
            up = time.perf_counter() - started
        started = time.perf_counter()
        got = 0
        response = await client.get_object(Bucket=bucket, Key="raw-big")
        async with response["Body"] as stream:
            async for chunk in stream.iter_chunks(MiB):
                got += len(chunk)
        down = time.perf_counter() - started
    assert got == size, (got, size)
    return {"push_mibs": size / MiB / up, "pull_mibs": size / MiB / down}


# -- one run ---------------------------------------------------------------------------------


@dataclass
class Data:
    big: Path
    big_digest: str
    big_size: int
    small: list[tuple[Path, str]]
    small_size: int
    config: Path
    config_digest: str


@dataclass
class Bench:
    opts: argparse.Namespace
    work: Path
    swift: SwiftServer
    data: Data
    results: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def target(self, name: str, round_no: int) -> None:
        log(f"round {round_no}: {name}")
        container = f"{name}-{round_no}-{os.getpid()}"
        if name.startswith("raw-"):
            runner = raw_swift if name == "raw-swift" else raw_s3
            figures = asyncio.run(runner(self.swift, container, self.data.big, self.data.big_size))
        else:
            with self.server(name, container) as server:
                figures = self.measure(server, full=name != "regd-fs")
        log(f"  {json.dumps({k: round(v, 1) for k, v in figures.items()})}")
        self.results.setdefault(name, []).append(figures)

    @contextlib.contextmanager
    def server(self, name: str, container: str) -> Iterator[Server]:
        if name == "regd-swift":
            server = start_regd(self.work, name, f"swift://{container}", self.swift.swift_env())
        elif name == "regd-s3":
            url = f"s3://{container}?endpoint={self.swift.endpoint}&region={REGION}"
            server = start_regd(self.work, name, url, self.swift.s3_env())
        elif name == "regd-fs":
            server = start_regd(self.work, f"{name}-{container}", "", {})
        else:
            if name == "ref-s3":  # distribution's s3 driver does not create its bucket
                storage, token = self.swift.token()
                run(
                    [
                        "curl",
                        "-sS",
                        "-f",
                        "-X",
                        "PUT",
                        "-H",
                        f"X-Auth-Token: {token}",
                        f"{storage}/{container}",
                    ]
                )
            server = start_reference(self.work, name, self.swift, container)
        try:
            yield server
        finally:
            server.stop()

    def measure(self, server: Server, full: bool) -> dict[str, float]:
        client, data, figures = Client(server), self.data, {}
        repo = "bench/app"
        token = client.token(repo)
        if full:
            started = time.perf_counter()
            client.push(token, repo, data.big_digest, data.big)
            figures["push_mibs"] = data.big_size / MiB / (time.perf_counter() - started)
            started = time.perf_counter()
            client.pull(token, repo, data.big_digest, data.big_size)
            figures["pull_mibs"] = data.big_size / MiB / (time.perf_counter() - started)
            started = time.perf_counter()
            with ThreadPoolExecutor(len(data.small)) as pool:
                pushes = [pool.submit(client.push, token, repo, d, p) for p, d in data.small]
                for push in pushes:
                    push.result()
            seconds = time.perf_counter() - started
            figures["concurrent_s"] = seconds
            figures["concurrent_mibs"] = len(data.small) * data.small_size / MiB / seconds
        else:
            client.push(token, repo, data.small[0][1], data.small[0][0])
        client.push(token, repo, data.config_digest, data.config)
        client.put_manifest(token, repo, self.manifest(), self.work)
        figures["manifest_rps"] = client.wrk(
            token, f"/v2/{repo}/manifests/v1", self.opts.seconds, self.opts.connections
        )
        figures["peak_rss_mib"] = server.peak_rss_mib()
        figures["cpu_s"] = server.cpu_seconds()
        return figures

    def manifest(self) -> bytes:
        layer_path, layer_digest = self.data.small[0]
        return json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": self.data.config_digest,
                    "size": self.data.config.stat().st_size,
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest,
                        "size": layer_path.stat().st_size,
                    }
                ],
            }
        ).encode()


def _range(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return (
        f"{low:.0f}"
        if len(values) == 1 or f"{low:.0f}" == f"{high:.0f}"
        else f"{low:.0f}-{high:.0f}"
    )


def report(results: dict[str, list[dict[str, float]]]) -> str:
    keys = ("push_mibs", "pull_mibs", "concurrent_mibs", "manifest_rps", "peak_rss_mib")
    lines = [
        "| target | big push MiB/s | big pull MiB/s | concurrent push MiB/s "
        "| manifest GET/s | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in TARGETS:
        if name in results:
            cells = [_range([r[k] for r in results[name] if k in r]) for k in keys]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| ratio (per round) | values |", "| --- | --- |"]
    for label, (a, b, key) in _RATIOS.items():
        if a in results and b in results:
            pairs = zip(results[a], results[b], strict=False)
            values = [x[key] / y[key] for x, y in pairs if key in x and y.get(key)]
            lines.append(f"| {label} | " + ", ".join(f"{v:.2f}" for v in values) + " |")
    return "\n".join(lines)


_RATIOS = {
    "regd-swift / ref-swift push": ("regd-swift", "ref-swift", "push_mibs"),
    "regd-swift / ref-swift pull": ("regd-swift", "ref-swift", "pull_mibs"),
    "regd-swift / ref-swift concurrent": ("regd-swift", "ref-swift", "concurrent_mibs"),
    "regd-s3 / ref-s3 push": ("regd-s3", "ref-s3", "push_mibs"),
    "regd-s3 / ref-s3 pull": ("regd-s3", "ref-s3", "pull_mibs"),
    "regd-s3 / ref-s3 concurrent": ("regd-s3", "ref-s3", "concurrent_mibs"),
    "regd-swift push / raw-swift upload": ("regd-swift", "raw-swift", "push_mibs"),
    "regd-s3 push / raw-s3 upload": ("regd-s3", "raw-s3", "push_mibs"),
    "regd-swift pull / raw-swift download": ("regd-swift", "raw-swift", "pull_mibs"),
    "regd-s3 pull / raw-s3 download": ("regd-s3", "raw-s3", "pull_mibs"),
    "regd-swift manifest / regd-fs": ("regd-swift", "regd-fs", "manifest_rps"),
    "regd-s3 manifest / regd-fs": ("regd-s3", "regd-fs", "manifest_rps"),
}


def make_data(work: Path, opts: argparse.Namespace) -> Data:
    log(f"generating {opts.big_mib} MiB + {opts.small} x {opts.small_mib} MiB of random data")
    big = work / "big.bin"
    small = []
    for index in range(opts.small):
        path = work / f"small-{index}.bin"
        small.append((path, random_file(path, opts.small_mib * MiB)))
    config = work / "config.json"
    config.write_bytes(b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}')
    return Data(
        big,
        random_file(big, opts.big_mib * MiB),
        opts.big_mib * MiB,
        small,
        opts.small_mib * MiB,
        config,
        f"sha256:{hashlib.sha256(config.read_bytes()).hexdigest()}",
    )


def options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mib", type=int, default=1024, help="the big blob (1024)")
    parser.add_argument("--small", type=int, default=50, help="concurrent pushes (50)")
    parser.add_argument("--small-mib", type=int, default=4, help="size of each (4)")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration (8)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--rounds", type=int, default=1, help="repetitions (order alternates)")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    opts = options(argv)
    targets = [t for t in opts.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        raise SystemExit(f"unknown target(s): {', '.join(sorted(unknown))}")
    work = Path(tempfile.mkdtemp(prefix="regd-bench-objects-"))
    log(f"work directory {work}")
    try:
        data = make_data(work, opts)
        with running_swift() as swift:
            bench = Bench(opts, work, swift, data)
            for round_no in range(opts.rounds):
                for name in targets if round_no % 2 == 0 else targets[::-1]:
                    try:
                        bench.target(name, round_no)
                    except Exception as error:  # one target failing loses only its figures
                        log(f"  {name} failed: {type(error).__name__}: {error}")
    finally:
        if not opts.keep:
            subprocess.run(["rm", "-rf", str(work)], check=False)
    table = report(bench.results)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta: dict[str, Any] = {
        "options": vars(opts),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "load": os.getloadavg()},
        "results": bench.results,
    }
    (RESULTS / f"objectstore-{stamp}.json").write_text(json.dumps(meta, indent=1))
    (RESULTS / f"objectstore-{stamp}.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
