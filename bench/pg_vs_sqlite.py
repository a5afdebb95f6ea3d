#!/usr/bin/env python3
"""regd on PostgreSQL against the same regd on SQLite: the read paths, in one run.

    .venv/bin/python bench/pg_vs_sqlite.py            # ~3 minutes
    .venv/bin/python bench/pg_vs_sqlite.py --rounds 3 --seconds 5

Two ``regd serve`` from this checkout run side by side on free loopback ports, one on its
SQLite file, one on a throwaway PostgreSQL cluster (initdb + pg_ctl on loopback, as the
tests make it: tests/support/postgres.py). Both get the same data (bench/compare.py's
set-up) and the same wrk load (bench/wrk.lua, c=32 by default), alternating which goes
first: manifest GET by tag, blob HEAD, random 4 KiB Range GETs, a tags list of 1,000 tags
and a catalog page of 1,000 repositories. The table gives PostgreSQL's figure as a
fraction of SQLite's (1.00: as fast; the aim is at least 0.67, "within 1.5x").
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from harness.common import RESULTS, ROOT, MiB, log, run  # noqa: E402  (bench/harness/)
from harness.load import Options  # noqa: E402
from harness.report import Row  # noqa: E402
from harness.servers import Server, start_regd  # noqa: E402
from scenarios import REPO_BIG, Bench  # noqa: E402

from tests.support.postgres import running_cluster  # noqa: E402

SCENARIOS = ("manifest", "head", "range", "tags", "catalog")


class PgBench(Bench):
    def heads(self) -> None:
        """Blob HEADs with ApacheBench (``ab -i -k``): wrk waits for a body after a HEAD."""
        digest = self.ensure_big_blob()
        row = Row(f"Blob HEAD (ab -k), c={self.opts.connections}", "req/s", True)
        latency = Row(f"Blob HEAD (ab -k), c={self.opts.connections}: p99", "ms", False)
        self.rows += [row, latency]
        log(row.title)
        url = f"/v2/{REPO_BIG}/blobs/{digest}"
        scopes = [f"repository:{REPO_BIG}:pull"]
        tokens = {server.key: self.token(server, scopes) for server in self.servers}
        for server in self.servers:  # warm-up, and the answer is right
            out = self.curl(
                tokens[server.key],
                *("-I", "-o", "/dev/null", "-w", "%{http_code}", server.base + url),
            )
            if out != "200":
                raise RuntimeError(f"{server.label}: blob HEAD answered {out!r}")
            self.ab(server, url, tokens[server.key], 1.0)
        for index in range(self.opts.rounds):
            for server in self.order(index):
                before = server.cpu()
                rps, p99 = self.ab(server, url, tokens[server.key], self.opts.seconds)
                row.add(server.key, rps, server.cpu() - before)
                latency.add(server.key, p99)
                log(f"  {server.label}: {rps:,.0f} req/s, p99 {p99:.2f} ms")

    def ab(
        self, server: Server, path: str, token: str | None, seconds: float
    ) -> tuple[float, float]:
        """Requests per second and p99 (ms) of ``ab -i -k`` (HEAD, keep-alive)."""
        out = run(
            [
                "ab",
                "-i",
                "-k",
                "-q",
                "-c",
                str(self.opts.connections),
                "-t",
                str(max(1, round(seconds))),
                "-n",
                "10000000",
                "-H",
                f"Authorization: Bearer {token}",
                server.base + path,
            ]
        )
        rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        p99 = float(re.search(r"\s99%\s+(\d+)", out).group(1))  # type: ignore[union-attr]
        failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))  # type: ignore[union-attr]
        non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
        if failed or non2xx:
            raise RuntimeError(f"{server.label}: ab saw failures:\n{out}")
        return rps, p99

    def run(self) -> None:
        self.setup()
        steps = {
            "manifest": self.manifests,
            "head": self.heads,
            "range": self.ranges,
            "tags": self.tags,
            "catalog": self.catalog,
        }
        for scenario, step in steps.items():
            if self.wanted(scenario):
                step()


def table(rows: list[Row]) -> str:
    lines = [
        "| Scenario | SQLite | PostgreSQL | PostgreSQL / SQLite |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        sqlite, pg = row.value("regd"), row.value("ref")
        ratio = "-"
        if sqlite and pg:
            ratio = f"**{pg / sqlite if row.higher_is_better else sqlite / pg:.2f}**"
        better = "higher" if row.higher_is_better else "lower"
        lines.append(
            f"| {row.title} ({better} is better) | {row.cell('regd')} | {row.cell('ref')} "
            f"| {ratio} |"
        )
    lines += [
        "",
        "| Server CPU s per timed run (median) | SQLite | PostgreSQL |",
        "| --- | ---: | ---: |",
    ]
    for row in rows:
        if row.cpu:
            cells = [
                f"{statistics.median(row.cpu[k]):.2f}" if row.cpu.get(k) else "-"
                for k in ("regd", "ref")
            ]
            lines.append(f"| {row.title} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="each wrk round (4)")
    parser.add_argument("--rounds", type=int, default=2, help="wrk rounds per server (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (32)")
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument(
        "--blob-mib", type=int, default=64, help="the blob HEAD and Range GETs read"
    )
    parser.add_argument("--only", default="", help=f"comma-separated subset of {SCENARIOS}")
    parser.add_argument("--python", default=str(ROOT / ".venv/bin/python"))
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if only - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(only - set(SCENARIOS)))}")
    opts = Options(
        blob=args.blob_mib * MiB,
        chunk=64 * MiB,
        reps=1,
        pulls=1,
        small_count=1,
        small=1 * MiB,
        tags=args.tags,
        repos=args.repos,
        seconds=args.seconds,
        rounds=args.rounds,
        warmup_seconds=1.0,
        connections=args.connections,
        threads=1,
        range_size=4096,
        only=only,
    )
    command = " ".join(["bench/pg_vs_sqlite.py", *(argv if argv is not None else sys.argv[1:])])
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="regd-pg-bench-") as folder, running_cluster() as pg:
        work = Path(folder)
        try:
            servers.append(start_regd(work, args.python))
            servers.append(
                start_regd(work, args.python, pg.database_url("bench"), "ref", "regd on PostgreSQL")
            )
            bench = PgBench(opts, work, servers)
            bench.run()
        finally:
            for server in servers:
                server.stop()
    text = f"`{command}`\n\n{table(bench.rows)}"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
