"""Fair concurrent blob GETs (issue 15, point 10): 500 connections fetching one 1 MiB blob.

    .venv/bin/python bench/fairness.py [--connections 500] [--seconds 30] [--rounds 2]
                                       [--baseline-source DIR]

wrk (``--latency --timeout 10s``) drives each server with Bearer (regd) or Basic
(docker-registry) auth from a cold start, so the first wave of requests meets empty
caches, as after a restart. Per server and round it prints requests/s and the latency
p50 / p90 / p99 / max, and how many requests waited more than 10 s (wrk's "timeout"
count). A fair server has a p99 near ``connections / throughput`` and no timeout.

``--baseline-source DIR`` adds a regd run from another checkout (say, main's), to show a
change in one run; the servers take turns so the machine's load falls on each alike.
Python only sets things up and parses wrk's output.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ADMIN_PASSWORD, start_regd  # noqa: E402
from tests.support.upstreams import start_docker_registry  # noqa: E402

REPOSITORY = "bench/fair"
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass
class Result:
    server: str
    rps: float
    p50: float
    p90: float
    p99: float
    worst: float
    timeouts: int
    requests: int


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _wrk(url: str, header: str, connections: int, seconds: int) -> tuple[float, ...]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-H",
            header,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
    worst = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    requests = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not (worst and requests and rps and len(percentiles) == 3):
        raise RuntimeError("unexpected wrk output:\n" + out)
    return (
        float(rps.group(1)),
        *(_seconds(percentiles[p]) for p in ("50", "90", "99")),
        _seconds(worst.group(1)),
        int(timeouts.group(1)) if timeouts else 0,
        int(requests.group(1)),
    )


def _push(client: httpx.Client, blob: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    pushed = client.post(
        f"/v2/{REPOSITORY}/blobs/uploads/", params={"digest": digest}, content=blob
    )
    if pushed.status_code == 202:  # docker-registry: no monolithic POST, a session instead
        location = httpx.URL(pushed.headers["Location"])
        pushed = client.put(location.copy_merge_params({"digest": digest}), content=blob)
    pushed.raise_for_status()
    return digest


def _regd_round(
    work: Path, label: str, source: Path, blob: bytes, args: argparse.Namespace
) -> Result:
    env = {"PYTHONPATH": str(source)}
    data = work / f"data-{label}"
    shutil.rmtree(data, ignore_errors=True)
    server = start_regd(data, env=env)
    try:
        with server.client() as client:
            digest = _push(client, blob)
            token = client.get(
                "/token", params={"service": "regd", "scope": f"repository:{REPOSITORY}:pull"}
            ).json()["token"]
        server.stop()
        server = start_regd(data, env=env)  # cold caches, as after a restart
        url = f"{server.url}/v2/{REPOSITORY}/blobs/{digest}"
        return Result(
            label, *_wrk(url, f"Authorization: Bearer {token}", args.connections, args.seconds)
        )
    finally:
        server.stop(signal.SIGKILL)  # nothing to keep; a graceful stop waits on 500 sockets


def _distribution_round(work: Path, blob: bytes, args: argparse.Namespace) -> Result:
    binary = shutil.which("docker-registry")
    if binary is None:
        raise SystemExit("docker-registry is not installed (scripts/install-test-deps)")
    directory = work / "docker-registry"
    shutil.rmtree(directory, ignore_errors=True)
    registry = start_docker_registry(binary, directory, "bench", ADMIN_PASSWORD)
    try:
        with httpx.Client(
            base_url=registry.url, auth=("bench", ADMIN_PASSWORD), timeout=60
        ) as client:
            digest = _push(client, blob)
        basic = base64.b64encode(f"bench:{ADMIN_PASSWORD}".encode()).decode()
        url = f"{registry.url}/v2/{REPOSITORY}/blobs/{digest}"
        return Result(
            "docker-registry",
            *_wrk(url, f"Authorization: Basic {basic}", args.connections, args.seconds),
        )
    finally:
        registry.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-source", type=Path, help="another checkout's regd to compare")
    args = parser.parse_args()
    blob = os.urandom(1 << 20)
    print(
        f"# {args.connections} connections, {args.seconds} s per run, 1 MiB blob; "
        f"load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores"
    )
    columns = ("req/s", "p50", "p90", "p99", "max", ">10s")
    print(f"{'server':18} " + " ".join(f"{c:>6}" for c in columns) + " requests")
    with tempfile.TemporaryDirectory(prefix="regd-fair-") as tmp:
        work = Path(tmp)
        sources = [("regd", ROOT)]
        if args.baseline_source:
            sources.append(("regd (baseline)", args.baseline_source.resolve()))
        for _ in range(args.rounds):
            for label, source in sources:
                _print(_regd_round(work, label, source, blob, args))
            _print(_distribution_round(work, blob, args))


def _print(r: Result) -> None:
    print(
        f"{r.server:18} {r.rps:6.0f} {r.p50:6.2f} {r.p90:6.2f} {r.p99:6.2f} "
        f"{r.worst:6.2f} {r.timeouts:6d} {r.requests:8d}",
        flush=True,
    )


if __name__ == "__main__":
    main()
