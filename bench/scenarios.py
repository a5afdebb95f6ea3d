"""The scenarios of bench/compare.py, in the order they run. Each is one method of Bench
(a Harness: see bench/harness/) that adds its Row(s) to the report; the registries take
turns within a scenario, the order flipping every repetition.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.common import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, MiB, log, size_label
from harness.data import digest_of, random_chunks, random_file
from harness.dd import dd_parallel, dd_write
from harness.load import Harness
from harness.report import Row
from harness.servers import Server

REPO_BIG, REPO_APP, REPO_SMALL, REPO_TAGS = "bench/big", "bench/app", "bench/small", "bench/tags"
#: Repository scopes per token when many repositories are set up (keeps headers < 8 KiB).
SCOPES_PER_TOKEN = 40


@dataclass(frozen=True)
class Scenario:
    name: str  # for --only
    method: str  # the Bench method that runs it
    snapshot: str  # the memory snapshot taken after it ("{size}": the big blob's size)


#: Every scenario, in running order (after the set-up: a small image, a small push).
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("push", "push_monolithic", "the {size} monolithic pushes"),
    Scenario("chunked", "push_chunked", "the {size} chunked pushes"),
    Scenario("pull", "pull", "the pulls"),
    Scenario("range", "ranges", "the Range GETs"),
    Scenario("manifest", "manifests", "the manifest GETs"),
    Scenario("concurrent", "concurrent", "the concurrent pushes"),
    Scenario("tags", "tags", "the tags lists"),
    Scenario("catalog", "catalog", "the catalogs"),
)
NAMES = tuple(s.name for s in SCENARIOS)


class Bench(Harness):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.big_digest: str | None = None
        self.manifest: bytes = b""
        self.manifest_digest = ""
        self.app_blobs: list[str] = []

    def run(self) -> None:
        self.snapshot("start-up")
        self.setup()
        for scenario in SCENARIOS:
            if self.wanted(scenario.name):
                step: Callable[[], None] = getattr(self, scenario.method)
                step()
                self.snapshot(scenario.snapshot.format(size=size_label(self.opts.blob)))
        self.memory_rows()

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

    def push_monolithic(self) -> None:
        size = self.opts.blob
        row = Row(f"Push {size_label(size)}, monolithic (POST + PUT)", "MiB/s", True)
        warm = self.data / "warm-up"
        warm_digest = random_file(warm, 8 * MiB)

        def blob(rep: int) -> tuple[str, list[Path]]:
            path = self.data / f"big-{rep}"
            return random_file(path, size), [path]

        self._big_pushes(row, (warm_digest, [warm]), blob)

    def push_chunked(self) -> None:
        size = self.opts.blob
        row = Row(
            f"Push {size_label(size)}, chunked ({size_label(self.opts.chunk)} PATCHes + PUT)",
            "MiB/s",
            True,
        )
        warm = random_chunks(self.data / "warm-chunks", 8 * MiB, 2 * MiB)
        self._big_pushes(
            row,
            warm,
            lambda rep: random_chunks(self.data / f"chunked-{rep}", size, self.opts.chunk),
        )

    def _big_pushes(
        self,
        row: Row,
        warm: tuple[str, list[Path]],
        blob: Callable[[int], tuple[str, list[Path]]],
    ) -> None:
        """A warm-up push each, then ``reps`` distinct blobs to each server in turns, and
        beside each the dd reference: the same bytes written with ``conv=fsync`` into the
        same filesystem (``row`` key "dd")."""
        size = self.opts.blob
        self.rows.append(row)
        log(f"{row.title}: {self.opts.reps} distinct blob(s) each")
        for server in self.servers:
            self.push(server, REPO_BIG, warm[0], *warm[1])
        for rep in range(self.opts.reps):
            digest, files = blob(rep)
            dd_seconds = dd_write(files, self.work / "dd-target")
            row.add("dd", size / MiB / dd_seconds)
            log(f"  dd conv=fsync: {size / MiB / dd_seconds:,.0f} MiB/s ({dd_seconds:.2f} s)")
            for server in self.order(rep):
                before = server.cpu()
                seconds = self.push(server, REPO_BIG, digest, *files)
                row.add(server.key, size / MiB / seconds, server.cpu() - before)
                log(f"  {server.label}: {size / MiB / seconds:,.0f} MiB/s ({seconds:.2f} s)")
            self.big_digest = self.big_digest or digest
            for path in files:
                path.unlink()

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
        row = Row(f"Pull {size_label(size)} (GET to /dev/null)", "MiB/s", True)
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
            f"Range GET, random {piece // 1024} KiB of the {size_label(size)} blob, "
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
            f"{count} concurrent {size_label(size)} pushes (POST + PUT each)",
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
            if rep:
                dd_seconds = dd_parallel([path for path, _ in blobs], self.work / "dd-small")
                row.add("dd", total / dd_seconds)
                log(f"  {len(blobs)} parallel dd conv=fsync: {dd_seconds:.2f} s")
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


def _paths(directory: Path, n: int) -> Iterator[Path]:
    return (directory / f"blob-{i:03d}" for i in range(n))


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"
