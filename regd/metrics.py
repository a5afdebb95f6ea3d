"""The Prometheus metrics of one regd application (``GET /metrics``).

One :class:`Metrics` per application, on its own ``CollectorRegistry``: several apps in
one process (tests) never share counts. Labels are bounded: faces, route kinds, methods,
status codes, operator-configured remote names; never a repository, digest or user.
Outside the layers (like :mod:`regd.errors`): the layers that count take a ``Metrics``
(or ``None``) from their constructor and never import the HTTP layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

#: Seconds; from a cached manifest GET (~0.1 ms) to a slow upload (minutes).
DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    http_requests: Counter  # face, kind, method, status
    http_duration: Histogram  # face, kind, method
    blob_bytes_sent: Counter
    upload_bytes_received: Counter
    pullthrough_requests: Counter  # kind (manifest|blob), result (hit|miss|stale)
    upstream_requests: Counter  # remote, status_class
    upstream_bytes: Counter  # remote
    pullthrough_memory: Gauge
    gc_runs: Counter
    gc_links: Counter
    gc_blobs: Counter
    gc_bytes: Counter

    def upstream_answered(self, remote: str, status: int | None) -> None:
        """One request to an upstream: its status class (``2xx``...) or ``error``."""
        status_class = "error" if status is None else f"{status // 100}xx"
        self.upstream_requests.labels(remote, status_class).inc()

    def pullthrough(self, kind: str, result: str) -> None:
        self.pullthrough_requests.labels(kind, result).inc()

    def measure_pullthrough_memory(self, used: Callable[[], float]) -> None:
        """Read on each scrape: nothing is counted in the download loop."""
        self.pullthrough_memory.set_function(used)

    def gc_report(self, links: int, blobs: int, freed: int) -> None:
        self.gc_runs.inc()
        self.gc_links.inc(links)
        self.gc_blobs.inc(blobs)
        self.gc_bytes.inc(freed)


#: Every counter of :class:`Metrics`: field -> (metric name, help, labels).
_COUNTERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "http_requests": (
        "regd_http_requests",
        "HTTP requests answered, by face (v2, token, api, other), route kind, method and status.",
        ("face", "kind", "method", "status"),
    ),
    "blob_bytes_sent": (
        "regd_blob_bytes_sent",
        "Bytes of blob bodies answered to GETs (Range included).",
        (),
    ),
    "upload_bytes_received": (
        "regd_upload_bytes_received",
        "Bytes of blob upload bodies received.",
        (),
    ),
    "pullthrough_requests": (
        "regd_pullthrough_requests",
        "Pull-through cache lookups by kind (manifest, blob) and result (hit, miss, stale).",
        ("kind", "result"),
    ),
    "upstream_requests": (
        "regd_upstream_requests",
        "Requests to upstream registries (token services included) by remote and "
        "status class (2xx..5xx, error: no answer).",
        ("remote", "status_class"),
    ),
    "upstream_bytes": (
        "regd_upstream_bytes_received",
        "Bytes of manifests and blobs fetched from upstream registries.",
        ("remote",),
    ),
    "gc_runs": ("regd_gc_runs", "Garbage collections run by this regd (gc_interval).", ()),
    "gc_links": ("regd_gc_links_freed", "Blob links dropped by garbage collection.", ()),
    "gc_blobs": ("regd_gc_blobs_freed", "Blobs deleted by garbage collection.", ()),
    "gc_bytes": ("regd_gc_bytes_freed", "Bytes freed by garbage collection.", ()),
}


def create() -> Metrics:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    counters = {
        field: Counter(name, documentation, labels, registry=registry)
        for field, (name, documentation, labels) in _COUNTERS.items()
    }
    return Metrics(
        registry,
        http_duration=Histogram(
            "regd_http_request_duration_seconds",
            "Seconds from a request's arrival to its handler's answer (a sendfile blob "
            "body is sent after that).",
            ("face", "kind", "method"),
            registry=registry,
            buckets=DURATION_BUCKETS,
        ),
        pullthrough_memory=Gauge(
            "regd_pullthrough_memory_bytes",
            "Bytes of cold pull-through blobs held in memory ahead of the cache writes.",
            registry=registry,
        ),
        **counters,
    )
