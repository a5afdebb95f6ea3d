"""Pull-through fetches shared between clients, against a second regd behind a FaultyProxy.

No Debian packages needed: the upstream is a regd (token auth), the proxy counts and holds
requests, and every client is httpx over loopback.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.oci import assert_oci_error, digest_of, push_blob, push_image
from tests.support.server import RegdProcess, add_regd_remote, start_regd
from tests.support.upstreams import FaultyProxy
from tests.support.waiting import becomes_true, wait_until

MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class Setup:
    mirror: RegdProcess
    upstream: RegdProcess
    proxy: FaultyProxy
    alias: str


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    upstream = start_regd(tmp_path_factory.mktemp("upstream"))
    mirror = start_regd(tmp_path_factory.mktemp("mirror"))
    proxy = FaultyProxy(upstream.url).start()
    try:
        with mirror.client() as http:
            alias = add_regd_remote(http, upstream, proxy.url)
        yield Setup(mirror, upstream, proxy, alias)
    finally:
        proxy.stop()
        assert mirror.stop() == 0, mirror.log
        upstream.stop()
    assert "Traceback" not in mirror.log, mirror.log


def test_a_client_far_behind_still_gets_the_whole_blob(setup: Setup) -> None:
    """One client pauses after its first bytes while another drives the shared fetch to
    the end: the first one's bytes have left memory by then and come from the disk."""
    blob = random.Random("far-behind").randbytes(40 << 20)
    with setup.upstream.client() as up:
        digest = push_blob(up, "team/far-behind", blob)
    path = f"/v2/{setup.alias}/team/far-behind/blobs/{digest}"
    with setup.mirror.client() as slow, setup.mirror.client() as fast:
        with slow.stream("GET", path) as paused:
            assert paused.status_code == 200
            chunks = paused.iter_bytes(1 << 16)
            first = next(chunks)
            whole = fast.get(path)
            assert whole.status_code == 200
            assert digest_of(whole.content) == digest
            hasher = hashlib.sha256(first)
            size = len(first)
            for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
        assert (size, f"sha256:{hasher.hexdigest()}") == (len(blob), digest)
        # Cached: served locally from now on.
        assert digest_of(fast.get(path).content) == digest
    fetched = [r for r in setup.proxy.requests() if r.path.endswith(digest) and r.status == 200]
    assert [r.method for r in fetched] == ["GET"]


def test_concurrent_cold_manifest_requests_share_one_upstream_round(setup: Setup) -> None:
    with setup.upstream.client() as up:
        image = push_image(up, "team/many", "1.0", seed="many")
    path = f"/v2/{setup.alias}/team/many/manifests/1.0"
    results: list[tuple[int, str] | BaseException] = []
    sent = threading.Semaphore(0)

    def pull() -> None:
        try:
            with setup.mirror.client() as http:
                request = http.build_request("GET", path, headers={"Accept": MANIFEST_ACCEPT})
                sent.release()
                response = http.send(request)
                results.append((response.status_code, digest_of(response.content)))
        except BaseException as error:  # reported below
            results.append(error)

    setup.proxy.hold_manifests()
    threads = [threading.Thread(target=pull) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for _ in threads:
            assert sent.acquire(timeout=30)
        wait_until(lambda: len(setup.proxy.manifest_requests("1.0")) >= 1, 30, "an upstream round")
        # While the first round is held, every client waits on regd: a second upstream
        # request would show up here were the round not shared.
        assert not becomes_true(lambda: len(setup.proxy.manifest_requests("1.0")) > 1, 1.5)
    finally:
        setup.proxy.release_manifests()
        for thread in threads:
            thread.join(60)
    assert results == [(200, image.digest)] * 8
    answered = Counter(
        (r.method, r.status) for r in setup.proxy.manifest_requests("1.0") if r.status == 200
    )
    # The tag was never seen: one GET, no HEAD first.
    assert answered == Counter({("GET", 200): 1})


@pytest.mark.parametrize(
    ("fault", "code"), [(503, "UNAVAILABLE"), (429, "TOOMANYREQUESTS"), (500, "UNAVAILABLE")]
)
def test_uncached_digest_from_a_failing_upstream_is_a_clear_error(
    setup: Setup, fault: int, code: str
) -> None:
    digest = digest_of(f"never-pushed-{fault}".encode())
    setup.proxy.fault = fault
    try:
        with setup.mirror.client() as http:
            response = http.get(
                f"/v2/{setup.alias}/team/nothing/manifests/{digest}",
                headers={"Accept": MANIFEST_ACCEPT},
            )
    finally:
        setup.proxy.fault = None
    assert_oci_error(response, 429 if fault == 429 else 503, code)


def test_missing_digest_upstream_is_manifest_unknown(setup: Setup) -> None:
    digest = digest_of(b"not there either")
    with setup.mirror.client() as http:
        response = http.get(
            f"/v2/{setup.alias}/team/nothing/manifests/{digest}",
            headers={"Accept": MANIFEST_ACCEPT},
        )
    assert_oci_error(response, 404, "MANIFEST_UNKNOWN")


def test_a_stale_tag_is_checked_with_a_head_and_fetched_only_when_it_moved(
    setup: Setup,
) -> None:
    with setup.mirror.client() as http:
        before = http.get("/api/v1/image-registry/settings").json()
        assert http.patch("/api/v1/image-registry/settings", json={"tag-ttl": 0}).is_success
        try:
            with setup.upstream.client() as up:
                first = push_image(up, "team/moving", "1.0", seed="moving-1")
            path = f"/v2/{setup.alias}/team/moving/manifests/1.0"
            headers = {"Accept": MANIFEST_ACCEPT}

            def rounds() -> Counter[tuple[str, int]]:
                found = setup.proxy.manifest_requests("1.0")
                # (401s are the upstream's token challenges: not rounds of our own)
                return Counter(
                    (r.method, r.status) for r in found if "moving" in r.path and r.status != 401
                )

            assert digest_of(http.get(path, headers=headers).content) == first.digest
            assert rounds() == Counter({("GET", 200): 1})
            assert digest_of(http.get(path, headers=headers).content) == first.digest
            assert rounds() == Counter({("GET", 200): 1, ("HEAD", 200): 1})
            with setup.upstream.client() as up:
                moved = push_image(up, "team/moving", "1.0", seed="moving-2")
            assert digest_of(http.get(path, headers=headers).content) == moved.digest
            assert rounds() == Counter({("GET", 200): 2, ("HEAD", 200): 2})
        finally:
            assert http.put("/api/v1/image-registry/settings", json=before).is_success


def test_no_memory_budget_still_serves_concurrent_cold_pulls(
    setup: Setup, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``pullthrough_memory`` 0: every fetch runs at most FLOOR ahead of its disk writes,
    staging starts at once; three clients of one 40 MiB blob and a second blob at the
    same time all get their bytes (no fetch waits forever on another's budget)."""
    mirror = start_regd(
        tmp_path_factory.mktemp("lean-mirror"), env={"REGD_PULLTHROUGH_MEMORY": "0"}
    )
    try:
        with mirror.client() as http:
            alias = add_regd_remote(http, setup.upstream, setup.proxy.url)
        blobs = [random.Random(f"lean-{n}").randbytes(40 << 20) for n in range(2)]
        with setup.upstream.client() as up:
            digests = [push_blob(up, "team/lean", blob) for blob in blobs]
        results: list[str | BaseException] = []

        def pull(digest: str) -> None:
            try:
                with mirror.client() as http:
                    path = f"/v2/{alias}/team/lean/blobs/{digest}"
                    results.append(digest_of(http.get(path).content))
            except BaseException as error:  # reported below
                results.append(error)

        threads = [threading.Thread(target=pull, args=(d,)) for d in [*digests, digests[0]] * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert sorted(map(str, results)) == sorted([*digests, digests[0]] * 2)
    finally:
        assert mirror.stop() == 0, mirror.log
    assert "Traceback" not in mirror.log, mirror.log
