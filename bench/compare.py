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
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from harness.common import RESULTS, ROOT, MiB, busy_seconds, log
from harness.load import Options
from harness.machine import machine
from harness.report import memory_table, table
from harness.servers import Server, start_reference, start_regd
from scenarios import NAMES, Bench


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
    parser.add_argument("--only", default="", help=f"comma-separated subset of {NAMES}")
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
    if only - set(NAMES):
        parser.error(f"unknown scenario(s): {', '.join(sorted(only - set(NAMES)))}")
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
    report = table(bench.rows) + "\n\n" + memory_table(bench.memory)
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
