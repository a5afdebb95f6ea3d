"""``GET /metrics``: who may scrape it, what it counts, and what it never shows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.identities import assert_problem, bearer_client, create_token, create_user
from tests.support.oci import OCI_MANIFEST, digest_of, push_blob, push_image
from tests.support.server import RegdProcess, add_regd_remote, start_regd
from tests.support.waiting import wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape(client: httpx.Client) -> tuple[str, Samples]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.text, samples(response.text)


@pytest.fixture(scope="module")
def regd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    process = start_regd(tmp_path_factory.mktemp("metrics"))
    yield process
    assert process.stop() == 0, process.log
    assert "Traceback" not in process.log, process.log


def test_anonymous_scrapes_are_refused_by_default(regd: RegdProcess) -> None:
    with regd.client(auth=None) as anonymous:
        response = anonymous.get("/metrics")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    with regd.client(auth=("admin", "not-the-password")) as wrong:
        assert_problem(wrong.get("/metrics"), 401)


def test_only_registry_admins_scrape(regd: RegdProcess) -> None:
    with regd.client() as admin:
        create_user(admin, "metrics-viewer", "viewer-password-1")
        _id, token = create_token(admin, "1h", name="scraper")
    with regd.client(auth=("metrics-viewer", "viewer-password-1")) as viewer:
        assert_problem(viewer.get("/metrics"), 403)
    with bearer_client(regd, token) as scraper:  # a personal token, as Prometheus would use
        text, _found = scrape(scraper)
    assert "regd_http_requests_total" in text
    assert "process_cpu_seconds_total" in text


def test_a_push_and_a_pull_are_counted_without_names_or_digests(regd: RegdProcess) -> None:
    with regd.client() as admin:
        _text, before = scrape(admin)
        image = push_image(admin, "secret-team/hidden-app", "v1", seed="metrics")
        pulled = admin.get(
            "/v2/secret-team/hidden-app/manifests/v1", headers={"Accept": OCI_MANIFEST}
        )
        assert pulled.status_code == 200
        layer = image.layers[0]
        blob = admin.get(f"/v2/secret-team/hidden-app/blobs/{digest_of(layer)}")
        assert blob.content == layer
        ranged = admin.get(
            f"/v2/secret-team/hidden-app/blobs/{digest_of(layer)}", headers={"Range": "bytes=0-9"}
        )
        assert ranged.status_code == 206
        assert admin.get("/token", params={"service": "regd"}).status_code == 200
        text, after = scrape(admin)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "regd_http_requests_total"
    assert delta(requests, face="v2", kind="manifests", method="PUT", status="201") == 1
    assert delta(requests, face="v2", kind="manifests", method="GET", status="200") == 1
    assert delta(requests, face="v2", kind="blobs", method="GET", status="200") == 1
    assert delta(requests, face="v2", kind="blobs", method="GET", status="206") == 1
    assert delta(requests, face="token", kind="", method="GET", status="200") == 1
    assert delta(requests, face="api", kind="", method="POST", status="201") == 0
    pushes = delta(requests, face="v2", kind="uploads", method="POST", status="201")
    pushes += delta(requests, face="v2", kind="uploads", method="PUT", status="201")
    assert pushes == 1 + len(image.layers)  # the config and each layer
    histogram = "regd_http_request_duration_seconds_count"
    assert delta(histogram, face="v2", kind="manifests", method="GET") == 1
    assert delta("regd_blob_bytes_sent_total") == len(layer) + 10
    pushed = len(image.config) + sum(len(layer) for layer in image.layers)
    assert delta("regd_upload_bytes_received_total") == pushed
    for secret in ("secret-team", "hidden-app", image.digest, digest_of(layer)):
        assert secret not in text
    assert digest_of(layer).removeprefix("sha256:") not in text


def test_unknown_routes_get_a_bounded_label(regd: RegdProcess) -> None:
    with regd.client() as admin:
        assert admin.get("/no/such/page/12345").status_code == 404
        odd = admin.request("TRACE", "/v2/")  # a method regd has no label for
        assert odd.status_code == 405
        text, found = scrape(admin)
    labels = {"face": "other", "kind": "none", "method": "GET", "status": "404"}
    assert value(found, "regd_http_requests_total", **labels) >= 1
    odd_labels = {"face": "v2", "kind": "none", "method": "other", "status": "405"}
    assert value(found, "regd_http_requests_total", **odd_labels) >= 1
    assert "12345" not in text


def test_metrics_public_opens_the_scrape_and_gc_is_counted(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = {"REGD_METRICS_PUBLIC": "1", "REGD_GC_INTERVAL": "0.2", "REGD_GC_GRACE": "0"}
    public = start_regd(tmp_path_factory.mktemp("public"), env=env)
    try:
        with public.client(auth=None) as anonymous:
            _text, found = scrape(anonymous)
            assert "regd_pullthrough_memory_bytes" in {name for name, _labels in found}
        with public.client() as admin:
            garbage = b"a blob no manifest references"
            push_blob(admin, "gc/orphan", garbage)

            def freed() -> bool:
                return value(scrape(admin)[1], "regd_gc_bytes_freed_total") >= len(garbage)

            wait_until(freed, 30, "the daemon's collection frees the unreferenced blob")
            _text, found = scrape(admin)
        assert value(found, "regd_gc_runs_total") >= 1
        assert value(found, "regd_gc_blobs_freed_total") >= 1
        assert value(found, "regd_gc_links_freed_total") >= 1
    finally:
        assert public.stop() == 0, public.log


# -- pull-through --------------------------------------------------------------------------


@dataclass
class Mirror:
    mirror: RegdProcess
    upstream: RegdProcess
    alias: str


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirror]:
    upstream = start_regd(tmp_path_factory.mktemp("metrics-upstream"))
    mirror = start_regd(tmp_path_factory.mktemp("metrics-mirror"))
    try:
        with mirror.client() as http:
            alias = add_regd_remote(http, upstream)
        yield Mirror(mirror, upstream, alias)
    finally:
        assert mirror.stop() == 0, mirror.log
        upstream.stop()
    assert "Traceback" not in mirror.log, mirror.log


def test_pull_through_hits_and_misses(mirror: Mirror) -> None:
    with mirror.upstream.client() as up:
        image = push_image(up, "lib/cached-app", "v1", seed="metrics-pull-through")
    layer = image.layers[0]
    base = f"/v2/{mirror.alias}/lib/cached-app"
    accept = {"Accept": OCI_MANIFEST}
    with mirror.mirror.client() as client:
        _text, before = scrape(client)
        assert client.get(f"{base}/manifests/v1", headers=accept).status_code == 200  # miss
        by_digest = client.get(f"{base}/manifests/{image.digest}", headers=accept)
        assert by_digest.status_code == 200  # hit: cached with the tag
        # A miss; the blob is cached before this connection's next request is answered.
        assert client.get(f"{base}/blobs/{digest_of(layer)}").content == layer
        assert client.get(f"{base}/blobs/{digest_of(layer)}").content == layer  # hit
        text, after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    pulls = "regd_pullthrough_requests_total"
    assert delta(pulls, kind="manifest", result="miss") == 1
    assert delta(pulls, kind="manifest", result="hit") == 1
    assert delta(pulls, kind="blob", result="miss") == 1
    assert delta(pulls, kind="blob", result="hit") == 1
    upstream = "regd_upstream_requests_total"
    assert delta(upstream, remote=mirror.alias, status_class="2xx") >= 2  # manifest, blob
    fetched = delta("regd_upstream_bytes_received_total", remote=mirror.alias)
    assert fetched == len(image.manifest) + len(layer)
    assert value(after, "regd_pullthrough_memory_bytes") == 0  # nothing in flight
    for secret in ("cached-app", image.digest, digest_of(layer)):
        assert secret not in text
