"""Load generation: registry tokens, pushes with bench/push.sh, bulk requests from one curl
process, wrk rounds taking turns between the servers. The harness never sends HTTP itself."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.common import AUTH, PUSH_SH, WRK_LUA, log, run
from harness.report import Row
from harness.servers import Server


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


class Harness:
    """The servers, the results, and the ways of loading the servers: tokens, one push
    (bench/push.sh), many requests from one curl (--parallel), wrk rounds in turns."""

    def __init__(self, opts: Options, work: Path, servers: list[Server]) -> None:
        self.opts = opts
        self.work = work
        self.data = work / "data"
        self.data.mkdir()
        self.servers = servers
        self.rows: list[Row] = []
        self.memory: dict[str, dict[str, dict[str, float]]] = {}
        self._files = 0

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
