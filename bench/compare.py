#!/usr/bin/env python3
"""regd against Debian's docker-registry (CNCF distribution 2.8): one command, one table.

    .venv/bin/python bench/compare.py            # the full run (1 GiB blobs), ~5 minutes
    .venv/bin/python bench/compare.py --quick    # 256 MiB blobs, short wrk runs, ~2.5 minutes

Both registries run side by side on free loopback ports with fresh data directories in a
temporary directory; each scenario runs against one, then the other, and the order
alternates between repetitions. All load comes from curl (bench/push.sh, curl --parallel)
and wrk (bench/wrk.lua): this script only generates data, spawns those tools, reads their
output and /proc, and prints a markdown table. It is a benchmark, not a test; the test
suite never runs it. Raw figures go to bench/results/ (git-ignored).

regd is spoken to with registry tokens (Bearer JWTs from its /token service), as docker,
podman and skopeo do; only untimed set-up (and /token itself) uses Basic credentials.
docker-registry runs without authentication and ignores the credentials curl sends it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PUSH_SH = BENCH / "push.sh"
WRK_LUA = BENCH / "wrk.lua"
RESULTS = BENCH / "results"
MiB = 1 << 20
USER, PASSWORD = "admin", "bench-password-0123456789"
AUTH = f"{USER}:{PASSWORD}"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
SCENARIOS = ("push", "chunked", "pull", "range", "manifest", "concurrent", "tags", "catalog")
REPO_BIG, REPO_APP, REPO_SMALL, REPO_TAGS = "bench/big", "bench/app", "bench/small", "bench/tags"
#: Repository scopes per token when many repositories are set up (keeps headers < 8 KiB).
SCOPES_PER_TOKEN = 40


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    """Run a tool; its stdout. Fails loudly with its stderr."""
    done = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all CPUs) since boot."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# -- the two registries --------------------------------------------------------------------


@dataclass
class Server:
    key: str  # "regd" | "ref"
    label: str
    proc: subprocess.Popen[bytes]
    base: str
    data_dir: Path
    service: str | None = None  # regd's token service; None: no authentication

    def status(self) -> dict[str, float]:
        """VmRSS and VmHWM (peak) in MiB."""
        found: dict[str, float] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) / 1024
        return found

    def cpu(self) -> float:
        """User + system CPU seconds of the server process (all its threads) so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} during start-up")
        code = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", AUTH, f"{base}/v2/"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if code == "200":
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer on {base} within 30 s")


def start_regd(
    work: Path,
    python: str,
    database_url: str | None = None,
    key: str = "regd",
    label: str = "regd",
) -> Server:
    """``regd serve`` with its defaults (no access log) and a chosen admin password; on
    ``database_url`` instead of its SQLite file when given (bench/pg_vs_sqlite.py)."""
    data = work / f"{key}-data"
    logfile = work / f"{key}.log"
    env = {**os.environ, "REGD_ADMIN_PASSWORD": PASSWORD}
    if database_url is not None:
        env["REGD_DATABASE_URL"] = database_url
    with logfile.open("wb") as out:
        proc = subprocess.Popen(
            [python, "-m", "regd", "serve", "--addr", "127.0.0.1:0", "--data-dir", str(data)],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"regd listening on (http://\S+)", logfile.read_text(errors="replace"))
        if found:
            base = found.group(1)
            wait_ready(base, proc, "regd")
            challenge = run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%header{www-authenticate}", base + "/v2/"]
            )
            service = re.search(r'service="([^"]*)"', challenge)
            if service is None:
                raise RuntimeError(f"regd sent no Bearer challenge: {challenge!r}")
            return Server(key, label, proc, base, data, service.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"regd did not start; see {logfile}:\n{logfile.read_text()[-2000:]}")


def start_reference(work: Path) -> Server:
    """docker-registry: filesystem storage, deletes enabled, no auth, warn-level logs."""
    data = work / "ref-data"
    port = free_port()
    config = work / "docker-registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: regd-bench-not-a-secret\n"
    )
    with (work / "docker-registry.log").open("wb") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc, "docker-registry")
    return Server("ref", "docker-registry", proc, base, data)


# -- results -------------------------------------------------------------------------------


@dataclass
class Row:
    title: str
    unit: str
    higher_is_better: bool
    samples: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, list[Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    show: Callable[[float], str] | None = None

    def add(self, key: str, value: float, cpu: float | None = None) -> None:
        self.samples.setdefault(key, []).append(value)
        if cpu is not None:
            self.cpu.setdefault(key, []).append(cpu)

    def value(self, key: str) -> float | None:
        values = self.samples.get(key)
        return statistics.median(values) if values else None

    def ratio(self) -> float | None:
        ours, theirs = self.value("regd"), self.value("ref")
        if not ours or not theirs:
            return None
        return ours / theirs if self.higher_is_better else theirs / ours

    def cell(self, key: str) -> str:
        value = self.value(key)
        if value is None:
            return "-"
        text = self.show(value) if self.show else f"{_number(value)} {self.unit}"
        spread = self.samples[key]
        if len(spread) > 1:
            text += f" <sub>({_number(min(spread))}-{_number(max(spread))})</sub>"
        return text


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    lines = [
        "| Scenario | regd | docker-registry | ratio (>1: regd better) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        ratio = row.ratio()
        better = "higher" if row.higher_is_better else "lower"
        lines.append(
            f"| {row.title} ({better} is better) | {row.cell('regd')} | {row.cell('ref')} | "
            + (f"**{ratio:.2f}**" if ratio is not None else "-")
            + " |"
        )
    cpu_rows = [r for r in rows if r.cpu]
    if cpu_rows:
        lines += [
            "",
            "Server CPU seconds (user + system, all threads) per timed run, median:",
            "",
            "| Scenario | regd CPU s | docker-registry CPU s |",
            "| --- | ---: | ---: |",
        ]
        for row in cpu_rows:
            cells = [
                f"{statistics.median(row.cpu[k]):.2f}" if row.cpu.get(k) else "-"
                for k in ("regd", "ref")
            ]
            lines.append(f"| {row.title} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


# -- test data -----------------------------------------------------------------------------


def _write_random(out: Any, hasher: Any, size: int) -> None:
    while size:
        block = os.urandom(min(size, 8 * MiB))
        hasher.update(block)
        out.write(block)
        size -= len(block)


def random_file(path: Path, size: int) -> str:
    """``size`` bytes from the kernel's CSPRNG (like ``head -c``); the sha256 digest."""
    hasher = hashlib.sha256()
    with path.open("wb") as out:
        _write_random(out, hasher, size)
    return "sha256:" + hasher.hexdigest()


def random_chunks(directory: Path, size: int, chunk: int) -> tuple[str, list[Path]]:
    """One random blob of ``size`` bytes as ``chunk``-byte files, in order; digest, files."""
    directory.mkdir(parents=True)
    hasher = hashlib.sha256()
    paths: list[Path] = []
    for index, offset in enumerate(range(0, size, chunk)):
        path = directory / f"chunk-{index:05d}"
        with path.open("wb") as out:
            _write_random(out, hasher, min(chunk, size - offset))
        paths.append(path)
    return "sha256:" + hasher.hexdigest(), paths


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- the benchmark -------------------------------------------------------------------------


@dataclass
class Options:
    blob: int
    chunk: int
    reps: int
    pulls: int
    small_count: int
    small: int
    tags: int
    repos: int
    seconds: float
    rounds: int
    warmup_seconds: float
    connections: int
    threads: int
    range_size: int
    only: set[str]


class Bench:
    def __init__(self, opts: Options, work: Path, servers: list[Server]) -> None:
        self.opts = opts
        self.work = work
        self.data = work / "data"
        self.data.mkdir()
        self.servers = servers
        self.rows: list[Row] = []
        self.memory: dict[str, dict[str, dict[str, float]]] = {}
        self.big_digest: str | None = None
        self.manifest: bytes = b""
        self.manifest_digest = ""
        self.app_blobs: list[str] = []
        self._files = 0

    # -- helpers ---------------------------------------------------------------------------

    def order(self, rep: int) -> list[Server]:
        """Alternate which registry goes first, so neither always follows the other."""
        return self.servers if rep % 2 == 0 else self.servers[::-1]

    def snapshot(self, label: str) -> None:
        for server in self.servers:
            self.memory.setdefault(server.key, {})[label] = server.status()

    def token(self, server: Server, scopes: list[str]) -> str | None:
        """A fresh registry token for ``scopes`` (regd; None for docker-registry)."""
        if server.service is None:
            return None
        query = "&".join([f"service={server.service}", *(f"scope={s}" for s in scopes)])
        out = run(["curl", "-sS", "-f", "-u", AUTH, f"{server.base}/token?{query}"])
        return str(json.loads(out)["token"])

    def push_token(self, server: Server, *repos: str) -> str | None:
        return self.token(server, [f"repository:{r}:pull,push" for r in repos])

    @staticmethod
    def auth(token: str | None) -> list[str]:
        """curl options: a token (regd), else Basic credentials (regd's untimed set-up;
        docker-registry, which has no authentication, ignores them)."""
        return ["-H", f"Authorization: Bearer {token}"] if token else ["-u", AUTH]

    def curl(self, token: str | None, *args: str) -> str:
        return run(["curl", "-sS", "-H", "Expect:", *self.auth(token), *args])

    def push(self, server: Server, repo: str, digest: str, *files: Path) -> float:
        """Seconds for bench/push.sh (POST, then PUT or PATCHes and PUT), with a token."""
        token = self.push_token(server, repo)
        env = {"BENCH_TOKEN": token} if token else {}
        os.sync()  # earlier writes are on disk: this push pays only for its own
        started = time.perf_counter()
        run([str(PUSH_SH), server.base, repo, digest, *map(str, files)], env=env)
        return time.perf_counter() - started

    def bulk(
        self,
        server: Server,
        token: str | None,
        transfers: list[tuple[str, Path | None]],
        method: str,
        headers: tuple[str, ...] = (),
        parallel: int = 8,
        expect: str = "201",
    ) -> list[str]:
        """Many requests from one curl process (--parallel); their Location headers."""
        self._files += 1
        config = self.work / f"bulk-{self._files}.curlrc"
        lines = []
        for url, upload in transfers:
            lines.append(f'url = "{url}"')
            if upload is not None:
                lines.append(f'upload-file = "{upload}"')
            lines.append('output = "/dev/null"')
        config.write_text("\n".join(lines) + "\n")
        extra = [arg for header in headers for arg in ("-H", header)]
        out = self.curl(
            token,
            *("-K", str(config), "--parallel", "--parallel-immediate"),
            *("--parallel-max", str(parallel), "-X", method),
            *("-w", "%{http_code} %header{location}\\n", *extra),
        )
        results = [line.split(" ", 1) for line in out.splitlines() if line.strip()]
        bad = [r for r in results if r[0] != expect]
        if len(results) != len(transfers) or bad:
            raise RuntimeError(
                f"{server.label}: {method} x{len(transfers)}: {len(results)} answers, "
                f"{len(bad)} not {expect} (first: {bad[:1]})"
            )
        return [(server.base + r[1] if r[1].startswith("/") else r[1]) for r in results]

    def wrk(
        self,
        server: Server,
        path: str,
        seconds: float,
        headers: list[str],
        env: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        threads = min(self.opts.threads, self.opts.connections)
        cmd = ["wrk", f"-t{threads}", f"-c{self.opts.connections}", f"-d{max(1, round(seconds))}s"]
        cmd += ["--timeout", "30s", "-s", str(WRK_LUA)]
        for header in headers:
            cmd += ["-H", header]
        out = run([*cmd, server.base + path], env=env)
        line = next(x for x in out.splitlines() if x.startswith("BENCH "))
        result: dict[str, Any] = json.loads(line[len("BENCH ") :])
        result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
        result["errors"] = sum(v for k, v in result.items() if k.startswith("errors_"))
        return result

    def measure_wrk(
        self,
        row: Row,
        path: str,
        scopes: list[str],
        headers: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        latency_row: Row | None = None,
    ) -> None:
        """A warm-up each, then ``rounds`` runs each, alternating between the registries."""
        plan: dict[str, list[str]] = {}
        for server in self.servers:
            token = self.token(server, scopes)
            auth = [f"Authorization: Bearer {token}"] if token else []
            plan[server.key] = [*auth, *headers]
            self.wrk(server, path, self.opts.warmup_seconds, plan[server.key], env)
        for index in range(self.opts.rounds):
            for server in self.order(index + len(self.rows)):
                before = server.cpu()
                result = self.wrk(server, path, self.opts.seconds, plan[server.key], env)
                row.add(server.key, result["rps"], server.cpu() - before)
                row.extra.setdefault(server.key, []).append(result)
                if latency_row is not None:
                    latency_row.add(server.key, result["p99_us"] / 1000)
                if result["errors"]:
                    row.warnings.append(f"{server.label}: {result['errors']} errors: {result}")
                log(
                    f"  {server.label}: {result['rps']:,.0f} req/s, "
                    f"p99 {result['p99_us'] / 1000:.2f} ms, {result['errors']} errors"
                )

    def wanted(self, scenario: str) -> bool:
        return not self.opts.only or scenario in self.opts.only

    # -- set-up: a small image in bench/app, the "after a small push" memory snapshot --------

    def setup(self) -> None:
        layer = self.data / "layer"
        layer_digest = random_file(layer, 32 * 1024)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            }
        ).encode()
        (self.data / "config.json").write_bytes(config)
        config_digest = digest_of(config)
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": 32 * 1024}],
            }
        ).encode()
        (self.data / "manifest.json").write_bytes(self.manifest)
        self.manifest_digest = digest_of(self.manifest)
        self.app_blobs = [config_digest, layer_digest]
        small = self.data / "small-push"
        small_digest = random_file(small, self.opts.small)
        for server in self.servers:
            self.push(server, REPO_APP, config_digest, self.data / "config.json")
            self.push(server, REPO_APP, layer_digest, layer)
            self.put_manifest(server, REPO_APP, "latest")
            self.push(server, REPO_BIG, small_digest, small)
        self.snapshot(f"a {self.opts.small // MiB} MiB push")

    def put_manifest(self, server: Server, repo: str, tag: str) -> None:
        out = self.curl(
            self.push_token(server, repo),
            *("-o", "/dev/null", "-w", "%{http_code} %header{docker-content-digest}"),
            *("-H", f"Content-Type: {OCI_MANIFEST}", "-T", str(self.data / "manifest.json")),
            f"{server.base}/v2/{repo}/manifests/{tag}",
        )
        if out != f"201 {self.manifest_digest}":
            raise RuntimeError(f"{server.label}: manifest PUT answered {out!r}")

    # -- 1, 2: big pushes ------------------------------------------------------------------

    def disk_ceiling(self) -> float:
        """MiB/s of dd writing (and fsyncing) a big file where the registries store theirs."""
        source = self.data / "dd-source"
        random_file(source, self.opts.blob)
        target = self.work / "dd-target"
        os.sync()
        started = time.perf_counter()
        run(["dd", f"if={source}", f"of={target}", "bs=1M", "conv=fsync"])
        seconds = time.perf_counter() - started
        source.unlink()
        target.unlink()
        return self.opts.blob / MiB / seconds

    def big_pushes(self) -> None:
        size = self.opts.blob
        mono = Row(f"Push {_size(size)}, monolithic (POST + PUT)", "MiB/s", True)
        chunked = Row(
            f"Push {_size(size)}, chunked ({_size(self.opts.chunk)} PATCHes + PUT)", "MiB/s", True
        )
        warm = self.data / "warm-up"
        if self.wanted("push"):
            self.rows.append(mono)
            log(f"{mono.title}: {self.opts.reps} distinct blob(s) each")
            warm_digest = random_file(warm, 8 * MiB)
            for server in self.servers:
                self.push(server, REPO_BIG, warm_digest, warm)
            for rep in range(self.opts.reps):
                blob = self.data / f"big-{rep}"
                digest = random_file(blob, size)
                for server in self.order(rep):
                    before = server.cpu()
                    seconds = self.push(server, REPO_BIG, digest, blob)
                    mono.add(server.key, size / MiB / seconds, server.cpu() - before)
                    log(f"  {server.label}: {size / MiB / seconds:,.0f} MiB/s ({seconds:.2f} s)")
                self.big_digest = self.big_digest or digest
                blob.unlink()
            self.snapshot(f"the {_size(size)} monolithic pushes")
        if self.wanted("chunked"):
            self.rows.append(chunked)
            log(f"{chunked.title}: {self.opts.reps} distinct blob(s) each")
            warm_digest, warm_chunks = random_chunks(self.data / "warm-chunks", 8 * MiB, 2 * MiB)
            for server in self.servers:
                self.push(server, REPO_BIG, warm_digest, *warm_chunks)
            for rep in range(self.opts.reps):
                directory = self.data / f"chunked-{rep}"
                digest, files = random_chunks(directory, size, self.opts.chunk)
                for server in self.order(rep):
                    before = server.cpu()
                    seconds = self.push(server, REPO_BIG, digest, *files)
                    chunked.add(server.key, size / MiB / seconds, server.cpu() - before)
                    log(f"  {server.label}: {size / MiB / seconds:,.0f} MiB/s ({seconds:.2f} s)")
                self.big_digest = self.big_digest or digest
                shutil.rmtree(directory)
            self.snapshot(f"the {_size(size)} chunked pushes")

    def ensure_big_blob(self) -> str:
        if self.big_digest is None:  # --only without the pushes: store one, untimed
            blob = self.data / "big-untimed"
            self.big_digest = random_file(blob, self.opts.blob)
            for server in self.servers:
                self.push(server, REPO_BIG, self.big_digest, blob)
            blob.unlink()
        return self.big_digest

    # -- 3: pull ---------------------------------------------------------------------------

    def pull(self) -> None:
        digest = self.ensure_big_blob()
        size = self.opts.blob
        row = Row(f"Pull {_size(size)} (GET to /dev/null)", "MiB/s", True)
        self.rows.append(row)
        log(f"{row.title}: {self.opts.pulls} pulls each")
        url = f"/v2/{REPO_BIG}/blobs/{digest}"
        tokens = {s.key: self.token(s, [f"repository:{REPO_BIG}:pull"]) for s in self.servers}
        for server in self.servers:  # warm-up, and check the content
            curl = shlex.join(
                ["curl", "-sS", "-f", *self.auth(tokens[server.key]), server.base + url]
            )
            got = subprocess.run(
                f"{curl} | openssl dgst -sha256 -r",
                shell=True,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[0]
            if f"sha256:{got}" != digest:
                raise RuntimeError(f"{server.label}: pulled content has digest sha256:{got}")
        for rep in range(self.opts.pulls):
            for server in self.order(rep):
                before = server.cpu()
                started = time.perf_counter()
                self.curl(tokens[server.key], "-f", "-o", "/dev/null", server.base + url)
                seconds = time.perf_counter() - started
                row.add(server.key, size / MiB / seconds, server.cpu() - before)
        for server in self.servers:
            log(f"  {server.label}: {row.value(server.key):,.0f} MiB/s")

    # -- 4: Range GETs ---------------------------------------------------------------------

    def ranges(self) -> None:
        digest = self.ensure_big_blob()
        size, piece = self.opts.blob, self.opts.range_size
        row = Row(
            f"Range GET, random {piece // 1024} KiB of the {_size(size)} blob, "
            f"c={self.opts.connections}",
            "req/s",
            True,
        )
        self.rows.append(row)
        log(row.title)
        url = f"/v2/{REPO_BIG}/blobs/{digest}"
        scopes = [f"repository:{REPO_BIG}:pull"]
        for server in self.servers:  # the same answer from both
            out = self.curl(
                self.token(server, scopes),
                *("-o", "/dev/null", "-w", "%{http_code} %{size_download}"),
                *("-r", f"{piece}-{2 * piece - 1}", server.base + url),
            )
            if out != f"206 {piece}":
                raise RuntimeError(f"{server.label}: Range GET answered {out!r}")
        env = {"BENCH_RANGE_SIZE": str(piece), "BENCH_BLOB_SIZE": str(size)}
        self.measure_wrk(row, url, scopes, env=env)

    # -- 5: manifest GET by tag ------------------------------------------------------------

    def manifests(self) -> None:
        row = Row(f"Manifest GET by tag, c={self.opts.connections}", "req/s", True)
        latency = Row(f"Manifest GET by tag, c={self.opts.connections}: p99", "ms", False)
        self.rows += [row, latency]
        log(row.title)
        url = f"/v2/{REPO_APP}/manifests/latest"
        accept = f"Accept: {OCI_MANIFEST}"
        scopes = [f"repository:{REPO_APP}:pull"]
        for server in self.servers:
            out = self.curl(
                self.token(server, scopes),
                *("-o", "/dev/null", "-w", "%{http_code} %header{docker-content-digest}"),
                *("-H", accept, server.base + url),
            )
            if out != f"200 {self.manifest_digest}":
                raise RuntimeError(f"{server.label}: manifest GET answered {out!r}")
        self.measure_wrk(row, url, scopes, (accept,), latency_row=latency)

    # -- 6: concurrent small pushes --------------------------------------------------------

    def concurrent(self) -> None:
        count, size = self.opts.small_count, self.opts.small
        total = count * size / MiB
        row = Row(
            f"{count} concurrent {_size(size)} pushes (POST + PUT each)",
            "MiB/s",
            True,
            show=lambda v: f"{v:,.0f} MiB/s = {total / v:.2f} s",
        )
        self.rows.append(row)
        log(f"{row.title}: {self.opts.reps} round(s) of distinct blobs")
        rounds = []
        for rep in range(self.opts.reps + 1):  # round 0 is the warm-up
            directory = self.data / f"small-{rep}"
            directory.mkdir()
            n = count if rep else min(count, 8)
            rounds.append([(p, random_file(p, size)) for p in _paths(directory, n)])
        for rep, blobs in enumerate(rounds):
            for server in self.order(rep):
                token = self.push_token(server, REPO_SMALL)
                os.sync()
                before = server.cpu()
                started = time.perf_counter()
                sessions = self.bulk(
                    server,
                    token,
                    [(f"{server.base}/v2/{REPO_SMALL}/blobs/uploads/", None)] * len(blobs),
                    "POST",
                    parallel=len(blobs),
                    expect="202",
                )
                self.bulk(
                    server,
                    token,
                    [
                        (_with_digest(location, digest), path)
                        for location, (path, digest) in zip(sessions, blobs, strict=True)
                    ],
                    "PUT",
                    ("Content-Type: application/octet-stream",),
                    parallel=len(blobs),
                )
                seconds = time.perf_counter() - started
                if rep:
                    row.add(server.key, total / seconds, server.cpu() - before)
                    log(f"  {server.label}: {seconds:.2f} s, {total / seconds:,.0f} MiB/s")
            shutil.rmtree(blobs[0][0].parent)

    # -- 7: tags list ----------------------------------------------------------------------

    def populate(self, server: Server, repos: list[str], tags: list[str]) -> None:
        """Each repo gets bench/app's blobs (mounted) and its manifest under each tag."""
        manifest = self.data / "manifest.json"
        for start in range(0, len(repos), SCOPES_PER_TOKEN):
            batch = repos[start : start + SCOPES_PER_TOKEN]
            token = self.token(
                server,
                [f"repository:{REPO_APP}:pull"] + [f"repository:{r}:pull,push" for r in batch],
            )
            self.bulk(
                server,
                token,
                [
                    (f"{server.base}/v2/{repo}/blobs/uploads/?mount={digest}&from={REPO_APP}", None)
                    for repo in batch
                    for digest in self.app_blobs
                ],
                "POST",
            )
            self.bulk(
                server,
                token,
                [
                    (f"{server.base}/v2/{repo}/manifests/{tag}", manifest)
                    for repo in batch
                    for tag in tags
                ],
                "PUT",
                (f"Content-Type: {OCI_MANIFEST}",),
            )

    def tags(self) -> None:
        n = self.opts.tags
        row = Row(f"Tags list of {n:,} tags, c={self.opts.connections}", "req/s", True)
        self.rows.append(row)
        log(f"{row.title}: tagging")
        for server in self.servers:
            self.populate(server, [REPO_TAGS], [f"t{i:05d}" for i in range(n)])
        url = f"/v2/{REPO_TAGS}/tags/list"
        scopes = [f"repository:{REPO_TAGS}:pull"]
        for server in self.servers:
            body = self.curl(self.token(server, scopes), "-f", server.base + url)
            if len(json.loads(body)["tags"]) != n:
                raise RuntimeError(f"{server.label}: not {n} tags listed")
        self.measure_wrk(row, url, scopes)

    # -- 8: catalog ------------------------------------------------------------------------

    def catalog(self) -> None:
        n = self.opts.repos
        row = Row(
            f"Catalog of {n:,} repositories (?n={n}), c={self.opts.connections}", "req/s", True
        )
        self.rows.append(row)
        log(f"{row.title}: creating repositories")
        for server in self.servers:
            self.populate(server, [f"bench/catalog/r{i:05d}" for i in range(n)], ["latest"])
        url = f"/v2/_catalog?n={n}"
        scopes = ["registry:catalog:*"]
        listed = {}
        for server in self.servers:
            body = self.curl(self.token(server, scopes), "-f", server.base + url)
            listed[server.key] = json.loads(body)["repositories"]
            if len(listed[server.key]) != n:
                raise RuntimeError(f"{server.label}: {len(listed[server.key])} repositories")
        if listed["regd"] != listed["ref"]:
            row.warnings.append("the two catalogs list different repositories")
        self.measure_wrk(row, url, scopes)

    # -- 9: memory -------------------------------------------------------------------------

    def memory_rows(self) -> None:
        """Peak and final RSS in the main table; every snapshot in the memory table."""
        peak = Row("Peak RSS (VmHWM) over the whole run", "MiB", False)
        end = Row("RSS (VmRSS) at the end of the run", "MiB", False)
        for server in self.servers:
            status = server.status()
            peak.add(server.key, status["VmHWM"])
            end.add(server.key, status["VmRSS"])
        self.rows += [peak, end]

    def memory_table(self) -> str:
        lines = [
            "| Memory (MiB), after... | regd RSS | regd peak | docker-registry RSS "
            "| docker-registry peak |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for label in self.memory["regd"]:
            cells = [
                f"{self.memory[key][label][what]:.0f}"
                for key in ("regd", "ref")
                for what in ("VmRSS", "VmHWM")
            ]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def run(self) -> None:
        self.snapshot("start-up")
        self.setup()
        self.big_pushes()
        steps: list[tuple[str, Callable[[], None], str]] = [
            ("pull", self.pull, "the pulls"),
            ("range", self.ranges, "the Range GETs"),
            ("manifest", self.manifests, "the manifest GETs"),
            ("concurrent", self.concurrent, "the concurrent pushes"),
            ("tags", self.tags, "the tags lists"),
            ("catalog", self.catalog, "the catalogs"),
        ]
        for scenario, step, label in steps:
            if self.wanted(scenario):
                step()
                self.snapshot(label)
        self.memory_rows()


def _size(size: int) -> str:
    return f"{size // (1 << 30)} GiB" if size % (1 << 30) == 0 else f"{size // MiB} MiB"


def _paths(directory: Path, n: int) -> Iterator[Path]:
    return (directory / f"blob-{i:03d}" for i in range(n))


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


# -- the machine ---------------------------------------------------------------------------


def machine(python: str) -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    versions = run(
        [
            python,
            "-c",
            "import sys, aiohttp, regd; "
            "print(sys.version.split()[0], aiohttp.__version__, regd.__version__)",
        ]
    ).split()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "CPUs": str(os.cpu_count()),
        "CPU model": cpu,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "Python": versions[0],
        "aiohttp": versions[1],
        "regd": f"{versions[2]} ({commit or 'no git'}), stock asyncio event loop",
        "docker-registry": run(["docker-registry", "--version"]).strip().split()[-1],
        "curl": run(["curl", "--version"]).split("\n")[0].split()[1],
        "wrk": run(["sh", "-c", "wrk --version 2>&1 || true"]).split()[1],
    }


def options(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB blobs, short wrk runs")
    parser.add_argument("--blob-mib", type=int, help="big blob size (default 1024; quick 256)")
    parser.add_argument("--chunk-mib", type=int, default=64, help="PATCH size (default 64)")
    parser.add_argument("--reps", type=int, help="distinct big pushes per registry (3; quick 1)")
    parser.add_argument("--small-count", type=int, default=50, help="concurrent pushes (50)")
    parser.add_argument("--small-mib", type=int, default=4, help="their size (4)")
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--seconds", type=float, help="each wrk round (4; quick 3)")
    parser.add_argument("--rounds", type=int, help="wrk rounds per registry (3; quick 1)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (1: 2 cores are shared)")
    parser.add_argument("--range-kib", type=int, default=4, help="Range GET size (4)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {SCENARIOS}")
    parser.add_argument("--workdir", type=Path, help="parent of the temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--python",
        default=str(ROOT / ".venv/bin/python")
        if (ROOT / ".venv/bin/python").exists()
        else sys.executable,
        help="the interpreter that runs regd (default: the repository's .venv)",
    )
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if only - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(only - set(SCENARIOS)))}")
    quick = args.quick
    opts = Options(
        blob=(args.blob_mib or (256 if quick else 1024)) * MiB,
        chunk=args.chunk_mib * MiB,
        reps=args.reps or (1 if quick else 3),
        pulls=3 if quick else 5,
        small_count=args.small_count,
        small=args.small_mib * MiB,
        tags=args.tags,
        repos=args.repos,
        seconds=args.seconds or (3.0 if quick else 4.0),
        rounds=args.rounds or (1 if quick else 3),
        warmup_seconds=1.0 if quick else 2.0,
        connections=args.connections,
        threads=args.threads,
        range_size=args.range_kib * 1024,
        only=only,
    )
    return opts, args


def main(argv: list[str] | None = None) -> int:
    opts, args = options(argv)
    for tool in ("curl", "wrk", "docker-registry", "openssl", "dd"):
        if shutil.which(tool) is None:
            print(f"compare.py: {tool} is not installed", file=sys.stderr)
            return 2
    command = " ".join(["bench/compare.py", *(argv if argv is not None else sys.argv[1:])])
    info = machine(args.python)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    busy_before = busy_seconds()
    work = Path(tempfile.mkdtemp(prefix="regd-bench-", dir=args.workdir))
    servers: list[Server] = []
    log(f"work directory {work}")
    try:
        bench_cpu = 0.0
        servers.append(start_regd(work, args.python))
        servers.append(start_reference(work))
        for server in servers:
            log(f"{server.label} on {server.base}, pid {server.proc.pid}")
        bench = Bench(opts, work, servers)
        ceiling = bench.disk_ceiling() if bench.wanted("push") or bench.wanted("chunked") else None
        bench.run()
        bench_cpu = sum(s.cpu() for s in servers)
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    tools_cpu = children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime
    others = busy_seconds() - busy_before - tools_cpu - bench_cpu
    info["run"] = f"{started_at:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} min"
    info["CPU used by other processes during the run"] = (
        f"{max(0.0, others) / elapsed / (os.cpu_count() or 1):.0%} of the machine"
    )
    if ceiling is not None:
        info["dd of a same-size file into the work dir (conv=fsync)"] = f"{ceiling:,.0f} MiB/s"
    report = table(bench.rows) + "\n\n" + bench.memory_table()
    warnings = [f"- {row.title}: {w}" for row in bench.rows for w in row.warnings]
    header = f"`{command}`\n\n" + "\n".join(f"- {k}: {v}" for k, v in info.items())
    text = header + "\n\n" + report + ("\n\nWarnings:\n" + "\n".join(warnings) if warnings else "")
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stamp = f"{started_at:%Y%m%d-%H%M%S}"
    (RESULTS / f"compare-{stamp}.md").write_text(text + "\n")
    with contextlib.suppress(OSError):
        (RESULTS / f"compare-{stamp}.json").write_text(
            json.dumps(
                {
                    "command": command,
                    "machine": info,
                    "options": {k: sorted(v) if isinstance(v, set) else v
                                for k, v in vars(opts).items()},
                    "memory": bench.memory,
                    "rows": [
                        {
                            "title": r.title,
                            "unit": r.unit,
                            "higher_is_better": r.higher_is_better,
                            "samples": r.samples,
                            "cpu_seconds": r.cpu,
                            "ratio": r.ratio(),
                            "wrk": r.extra,
                            "warnings": r.warnings,
                        }
                        for r in bench.rows
                    ],
                },
                indent=1,
            )
        )  # fmt: skip
    log(f"results in {RESULTS}/compare-{stamp}.{{md,json}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
