"""The pull-through cache against real upstream registries on loopback.

- Upstream 1 is Debian's ``docker-registry`` with htpasswd Basic auth; regd reaches it
  directly (so stopping it makes it unreachable), and the tests count on its access log. It
  is configured a second time, under the address of a FaultyProxy in front of it.
- Upstream 2 is a second regd, with its Bearer token flow (``/token``) and a user holding
  ``registry-pull``; regd reaches it through :class:`FaultyProxy`, which counts requests and
  can answer 429, hold blob GETs or flip a byte of a blob.

The regd under test (``mirror``) holds the upstream credentials in Strongbox secrets. skopeo
and podman pull from it as ``admin``.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.accounts import ADMIN, create_user
from tests.e2e.clients import Skopeo, make_podman, make_skopeo
from tests.e2e.clients import seed_upstream as _seed
from tests.e2e.conftest import require, require_tool, write_policy
from tests.support.images import LayoutImage, read_blob, read_layout_manifest, write_image_layout
from tests.support.oci import OCI_MANIFEST, digest_of, error_codes
from tests.support.server import RegdProcess, start_regd
from tests.support.upstreams import (
    DockerRegistry,
    FaultyProxy,
    UpstreamRequest,
    start_docker_registry,
)
from tests.support.waiting import becomes_true, wait_until

pytestmark = pytest.mark.e2e
BASIC = pytest.mark.xdist_group("pullthrough-basic")
BEARER = pytest.mark.xdist_group("pullthrough-bearer")

BASIC_PASSWORD = "dr-password-1"
#: What tests.e2e.accounts.create_user gives ``mirror-puller``.
PULLER_PASSWORD = "mirror-puller-password-for-e2e"
WRONG_PASSWORD = "not-the-password"
#: How long a refused pull may take, end to end (it must not hang on retries).
FAIL_FAST = 20.0
MANIFEST_ACCEPT = ", ".join(
    [
        OCI_MANIFEST,
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def skopeo_bin() -> str:
    return require_tool("skopeo")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    """The regd under test: it pulls through from the upstreams."""
    server = start_regd(tmp_path_factory.mktemp("mirror"))
    yield server
    assert server.stop() == 0, server.log
    # Upstream failures are logged as such, never as a traceback; credentials never.
    assert "Traceback" not in server.log, server.log
    for secret in (BASIC_PASSWORD, PULLER_PASSWORD, WRONG_PASSWORD):
        assert secret not in server.log


@pytest.fixture
def client(skopeo_bin: str, tmp_path: Path, mirror: RegdProcess) -> Skopeo:
    """skopeo logged in to the mirror as admin."""
    return make_skopeo(skopeo_bin, tmp_path / "skopeo", mirror, mirror.admin_creds)


@pytest.fixture
def admin(mirror: RegdProcess) -> Iterator[httpx.Client]:
    with mirror.client() as http:
        yield http


def _add_secret(http: httpx.Client, vault: str, secret: str, username: str, password: str) -> None:
    if http.get(f"/api/v1/strongbox/vaults/{vault}").status_code == 404:
        created = http.post("/api/v1/strongbox/vaults", json={"name": vault})
        assert created.status_code == 201, created.text
    response = http.post(
        f"/api/v1/strongbox/vaults/{vault}/secrets",
        json={"name": secret, "data": {"username": username, "password": password}},
    )
    assert response.status_code == 201, response.text


def _add_remote(
    http: httpx.Client, address: str, override: str, vault: str, secret: str
) -> dict[str, Any]:
    response = http.post(
        "/api/v1/image-registry/remote-registries",
        json={
            "address": address,
            "override-address": override,
            "credentials": [{"repository": "*", "vault": vault, "secret": secret}],
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@contextmanager
def settings(http: httpx.Client, **changes: Any) -> Iterator[None]:
    """Merge image-registry settings (``tag_ttl`` for ``tag-ttl``), restoring them after."""
    before = http.get("/api/v1/image-registry/settings").json()
    body = {key.replace("_", "-"): value for key, value in changes.items()}
    response = http.patch("/api/v1/image-registry/settings", json=body)
    assert response.status_code == 200, response.text
    try:
        yield
    finally:
        restored = http.put("/api/v1/image-registry/settings", json=before)
        assert restored.status_code == 200, restored.text


@dataclass
class BasicUpstream:
    """docker-registry with htpasswd, configured in the mirror as a remote (``alias``), and
    once more (``proxied_alias``) under the address of a FaultyProxy in front of it."""

    registry: DockerRegistry
    alias: str
    skopeo_bin: str
    directory: Path
    proxy: FaultyProxy | None = None
    proxied_alias: str = ""

    def seed(self, name: str, seed: str, **kw: Any) -> LayoutImage:
        return _seed(
            self.skopeo_bin,
            self.directory,
            self.registry.host,
            self.registry.creds,
            name,
            seed,
            **kw,
        )


@dataclass
class BearerUpstream:
    """A second regd (token auth) behind a FaultyProxy, configured in the mirror as a remote."""

    regd: RegdProcess
    proxy: FaultyProxy
    alias: str
    skopeo_bin: str
    directory: Path

    @property
    def proxied_alias(self) -> str:
        return self.alias

    def seed(self, name: str, seed: str, **kw: Any) -> LayoutImage:
        return _seed(
            self.skopeo_bin,
            self.directory,
            self.regd.host,
            self.regd.admin_creds,
            name,
            seed,
            **kw,
        )


def _docker_registry(directory: Path, password: str = BASIC_PASSWORD) -> DockerRegistry:
    binary = require_tool("docker-registry")
    require_tool("htpasswd")
    return start_docker_registry(binary, directory, "puller", password)


@pytest.fixture(scope="module")
def basic(
    tmp_path_factory: pytest.TempPathFactory, skopeo_bin: str, mirror: RegdProcess
) -> Iterator[BasicUpstream]:
    directory = tmp_path_factory.mktemp("basic-upstream")
    registry = _docker_registry(directory / "registry")
    proxy = FaultyProxy(registry.url)
    try:
        proxy.start()
        with mirror.client() as http:
            _add_secret(http, "basic-creds", "docker-registry", "puller", registry.password)
            remote = _add_remote(
                http, registry.host, registry.url, "basic-creds", "docker-registry"
            )
            proxied = _add_remote(http, proxy.host, proxy.url, "basic-creds", "docker-registry")
        assert remote["name"] == registry.host.replace(":", "-")
        yield BasicUpstream(registry, remote["name"], skopeo_bin, directory, proxy, proxied["name"])
    finally:
        proxy.stop()
        registry.stop()


@pytest.fixture(scope="module")
def bearer(
    tmp_path_factory: pytest.TempPathFactory, skopeo_bin: str, mirror: RegdProcess
) -> Iterator[BearerUpstream]:
    directory = tmp_path_factory.mktemp("bearer-upstream")
    upstream = start_regd(directory / "data")
    proxy = FaultyProxy(upstream.url)
    try:
        proxy.start()
        puller = create_user(upstream, "mirror-puller", "registry-pull")
        assert puller.secret == PULLER_PASSWORD  # (the log check of `mirror` looks for it)
        with mirror.client() as http:
            _add_secret(http, "bearer-creds", "upstream-regd", puller.name, puller.secret)
            remote = _add_remote(http, upstream.host, proxy.url, "bearer-creds", "upstream-regd")
        yield BearerUpstream(upstream, proxy, remote["name"], skopeo_bin, directory)
    finally:
        proxy.stop()
        upstream.stop()


# -- helpers -------------------------------------------------------------------------------


def _assert_pulled(directory: Path, image: LayoutImage) -> None:
    """The OCI layout skopeo wrote holds the image byte for byte."""
    digest, manifest = read_layout_manifest(directory, image.tag)
    assert digest == image.digest
    assert manifest == image.manifest
    assert read_blob(directory, image.config_digest) == image.config
    for layer in image.layers:
        assert read_blob(directory, layer.digest) == layer.blob


def _podman_pull(podman_root: Path, tmp_path: Path, mirror: RegdProcess, ref: str) -> Any:
    """podman (root, vfs, private config marking the mirror insecure) pulls ``ref``."""
    require(os.geteuid() == 0, "podman runs as root here")
    podman = make_podman(require_tool("podman"), podman_root, mirror.host)
    assert "Login Succeeded" in podman.login(mirror.host, ADMIN.name, ADMIN.secret)
    policy = write_policy(tmp_path)
    podman("pull", "--quiet", "--signature-policy", policy, ref)
    [inspected] = json.loads(podman("image", "inspect", ref))
    return inspected


def _get_manifest(http: httpx.Client, name: str, tag: str) -> httpx.Response:
    return http.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})


# -- both upstreams: skopeo and podman, byte-identical, second pull stays local ------------


@BASIC
def test_pull_through_basic_auth_upstream(
    basic: BasicUpstream,
    client: Skopeo,
    mirror: RegdProcess,
    podman_root: Path,
    tmp_path: Path,
) -> None:
    image = basic.seed("team/basic-app", "pt-basic-app")
    name = f"{basic.alias}/team/basic-app"
    before = len(basic.registry.synced_requests())

    client.pull(name, "1.0", tmp_path / "first")
    _assert_pulled(tmp_path / "first", image)
    fetched = basic.registry.synced_requests()[before:]
    # Each blob was fetched with a single GET (Basic sent at once, no refused attempt first).
    blob_gets = sorted(r.path for r in fetched if r.method == "GET" and "/blobs/" in r.path)
    assert blob_gets == sorted(f"/v2/team/basic-app/blobs/{d}" for d in image.blob_digests)
    assert {
        "/v2/team/basic-app/manifests/1.0",
        *(f"/v2/team/basic-app/blobs/{d}" for d in image.blob_digests),
    } <= {r.path for r in fetched if r.status == 200}, fetched
    seen = len(basic.registry.requests())

    # A second pull, by skopeo and then by podman, is served from the cache alone.
    client.pull(name, "1.0", tmp_path / "second")
    _assert_pulled(tmp_path / "second", image)
    inspected = _podman_pull(podman_root, tmp_path, mirror, f"{mirror.host}/{name}:1.0")
    assert inspected["Id"] == image.config_digest.removeprefix("sha256:")
    assert inspected["Digest"] == image.digest
    assert inspected["RootFS"]["Layers"] == [layer.diff_id for layer in image.layers]
    assert basic.registry.synced_requests()[seen:] == []


@BEARER
def test_pull_through_token_auth_upstream(
    bearer: BearerUpstream,
    client: Skopeo,
    mirror: RegdProcess,
    podman_root: Path,
    tmp_path: Path,
) -> None:
    image = bearer.seed("team/bearer-app", "pt-bearer-app")
    name = f"{bearer.alias}/team/bearer-app"

    client.pull(name, "1.0", tmp_path / "first")
    _assert_pulled(tmp_path / "first", image)
    for digest in image.blob_digests:
        assert bearer.proxy.blob_gets(digest) == 1, digest
    # With a registry token from the upstream's /token (Bearer), never the password (Basic).
    answered = [r for r in bearer.proxy.requests() if "/team/bearer-app/" in r.path]
    assert {r.scheme for r in answered if r.status == 200} == {"Bearer"}, answered
    seen = len(bearer.proxy.requests())

    client.pull(name, "1.0", tmp_path / "second")
    _assert_pulled(tmp_path / "second", image)
    inspected = _podman_pull(podman_root, tmp_path, mirror, f"{mirror.host}/{name}:1.0")
    assert inspected["Id"] == image.config_digest.removeprefix("sha256:")
    assert inspected["Digest"] == image.digest
    assert bearer.proxy.requests()[seen:] == []


# -- one upstream fetch for concurrent cold pulls -------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [pytest.param("basic", marks=BASIC), pytest.param("bearer", marks=BEARER)],
)
def test_concurrent_cold_blob_is_fetched_once(
    kind: str, request: pytest.FixtureRequest, mirror: RegdProcess, admin: httpx.Client
) -> None:
    upstream: BasicUpstream | BearerUpstream = request.getfixturevalue(kind)
    proxy = upstream.proxy
    assert proxy is not None
    big = random.Random(kind).randbytes(6 << 20)
    image = upstream.seed(
        f"team/concurrent-{kind}", f"pt-concurrent-{kind}", files=[{"big.bin": big}]
    )
    name = f"{upstream.proxied_alias}/team/concurrent-{kind}"
    assert _get_manifest(admin, name, "1.0").status_code == 200
    [layer] = image.layers
    assert proxy.blob_gets(layer.digest) == 0

    results: list[tuple[int, str, int] | BaseException] = []
    sent = threading.Semaphore(0)

    def pull() -> None:
        try:
            with mirror.client() as http:
                request = http.build_request("GET", f"/v2/{name}/blobs/{layer.digest}")
                sent.release()
                response = http.send(request)
                results.append(
                    (response.status_code, digest_of(response.content), len(response.content))
                )
        except BaseException as error:  # reported below
            results.append(error)

    proxy.hold_blobs()
    threads = [threading.Thread(target=pull) for _ in range(10)]
    try:
        for thread in threads:
            thread.start()
        for _ in threads:
            assert sent.acquire(timeout=30)
        wait_until(lambda: proxy.blob_gets(layer.digest) >= 1, 30, "the upstream blob GET")
        # The window in which a second upstream GET would show up, were the fetch not
        # shared: the first is held, so every client is waiting on regd meanwhile.
        becomes_true(lambda: proxy.blob_gets(layer.digest) > 1, within=2)
    finally:
        proxy.release_blobs()
        for thread in threads:
            thread.join(60)
    # One GET, answered 200: not even a 401 first (Basic is sent once the remote asked).
    blob_gets = [r for r in proxy.requests() if r.path.endswith(f"/blobs/{layer.digest}")]
    assert blob_gets == [
        UpstreamRequest("GET", f"/v2/team/concurrent-{kind}/blobs/{layer.digest}", 200)
    ]
    assert results == [(200, layer.digest, len(layer.blob))] * 10
    # ... and it is cached now.
    assert digest_of(admin.get(f"/v2/{name}/blobs/{layer.digest}").content) == layer.digest
    assert proxy.blob_gets(layer.digest) == 1


# -- the upstream fails: a cached tag is still served -------------------------------------


@BASIC
def test_stopped_upstream_serves_cached_tag(
    skopeo_bin: str, client: Skopeo, admin: httpx.Client, tmp_path: Path
) -> None:
    registry = _docker_registry(tmp_path / "registry", "stopped-password")
    try:
        upstream = BasicUpstream(registry, "", skopeo_bin, tmp_path)
        image = upstream.seed("team/stopped", "pt-stopped")
        _add_secret(admin, "stopped-creds", "dr", "puller", registry.password)
        alias = _add_remote(admin, registry.host, registry.url, "stopped-creds", "dr")["name"]
        name = f"{alias}/team/stopped"
        client.pull(name, "1.0", tmp_path / "first")
    finally:
        registry.stop()

    with settings(admin, tag_ttl=0):
        # regd must revalidate the tag, cannot reach the upstream, and serves its cache.
        started = time.monotonic()
        response = _get_manifest(admin, name, "1.0")
        assert response.status_code == 200, response.text
        assert response.content == image.manifest
        assert response.headers["Docker-Content-Digest"] == image.digest
        assert response.headers["Warning"].startswith("110 ")
        assert time.monotonic() - started < FAIL_FAST
        client.pull(name, "1.0", tmp_path / "second")
        _assert_pulled(tmp_path / "second", image)
        # A tag never cached: a clear error, not a hang.
        missing = _get_manifest(admin, name, "2.0")
        assert missing.status_code == 503, missing.text
        assert error_codes(missing) == ["UNAVAILABLE"]
        assert registry.host in missing.json()["errors"][0]["message"]


@BEARER
def test_throttled_upstream_serves_cached_tag(
    bearer: BearerUpstream, client: Skopeo, admin: httpx.Client, tmp_path: Path
) -> None:
    image = bearer.seed("team/throttled", "pt-throttled")
    name = f"{bearer.alias}/team/throttled"
    client.pull(name, "1.0", tmp_path / "first")
    with settings(admin, tag_ttl=0):
        bearer.proxy.fault = 429
        try:
            response = _get_manifest(admin, name, "1.0")
            assert response.status_code == 200, response.text
            assert response.headers["Docker-Content-Digest"] == image.digest
            assert response.headers["Warning"].startswith("110 ")
            client.pull(name, "1.0", tmp_path / "second")
            _assert_pulled(tmp_path / "second", image)
            # An uncached tag gets the upstream's 429 (and its Retry-After) passed on.
            missing = _get_manifest(admin, name, "2.0")
            assert missing.status_code == 429, missing.text
            assert error_codes(missing) == ["TOOMANYREQUESTS"]
            assert missing.headers.get("Retry-After") == "1"
        finally:
            bearer.proxy.fault = None
        # The upstream is back: revalidation finds the same digest; no Warning.
        response = _get_manifest(admin, name, "1.0")
        assert response.status_code == 200
        assert "Warning" not in response.headers


# -- default-remote-registry ---------------------------------------------------------------


@BASIC
def test_default_remote_registry_serves_unqualified_names(
    basic: BasicUpstream, client: Skopeo, admin: httpx.Client, tmp_path: Path
) -> None:
    image = basic.seed("team/unqualified", "pt-unqualified")
    # Without a default, the name is simply unknown.
    assert _get_manifest(admin, "team/unqualified", "1.0").status_code == 404
    with settings(admin, default_remote_registry=basic.registry.host):
        client.pull("team/unqualified", "1.0", tmp_path / "pulled")
        _assert_pulled(tmp_path / "pulled", image)
        tags = admin.get("/v2/team/unqualified/tags/list")
        assert tags.json() == {"name": "team/unqualified", "tags": ["1.0"]}
    # The content is cached under the remote's alias.
    cached = _get_manifest(admin, f"{basic.alias}/team/unqualified", "1.0")
    assert cached.status_code == 200
    assert cached.headers["Docker-Content-Digest"] == image.digest


# -- errors: wrong credentials, pushes to a mirror -----------------------------------------


@BASIC
def test_wrong_basic_credentials_are_a_quick_clear_error(
    basic: BasicUpstream, client: Skopeo, admin: httpx.Client
) -> None:
    basic.seed("team/wrong-basic", "pt-wrong-basic")
    port = basic.registry.host.rsplit(":", 1)[1]
    # The same upstream under another address, with a wrong password.
    _add_secret(admin, "wrong-creds", "basic", "puller", WRONG_PASSWORD)
    remote = _add_remote(admin, f"localhost:{port}", basic.registry.url, "wrong-creds", "basic")
    name = f"{remote['name']}/team/wrong-basic"
    started = time.monotonic()
    response = _get_manifest(admin, name, "1.0")
    assert time.monotonic() - started < FAIL_FAST
    assert response.status_code == 403, response.text
    assert error_codes(response) == ["DENIED"]
    assert f"localhost:{port}" in response.json()["errors"][0]["message"]

    started = time.monotonic()
    output = client.failing("inspect", *client.remote, client.ref(name, "1.0"))
    assert time.monotonic() - started < FAIL_FAST
    assert "denied" in output.lower(), output
    assert f"localhost:{port}" in output


@BEARER
def test_wrong_token_credentials_are_a_quick_clear_error(
    bearer: BearerUpstream, admin: httpx.Client
) -> None:
    bearer.seed("team/wrong-bearer", "pt-wrong-bearer")
    port = bearer.regd.host.rsplit(":", 1)[1]
    _add_secret(admin, "wrong-creds-bearer", "regd", "mirror-puller", WRONG_PASSWORD)
    remote = _add_remote(admin, f"localhost:{port}", bearer.regd.url, "wrong-creds-bearer", "regd")
    started = time.monotonic()
    response = _get_manifest(admin, f"{remote['name']}/team/wrong-bearer", "1.0")
    assert time.monotonic() - started < FAIL_FAST
    assert response.status_code == 403, response.text
    assert error_codes(response) == ["DENIED"]
    assert f"localhost:{port}" in response.json()["errors"][0]["message"]


@BASIC
def test_push_to_a_mirror_is_refused(
    basic: BasicUpstream, client: Skopeo, admin: httpx.Client, tmp_path: Path
) -> None:
    image = write_image_layout(tmp_path / "layout", "1.0", seed="pt-push")
    name = f"{basic.alias}/team/pushed"
    output = client.failing("copy", *client.dest, image.reference, client.ref(name, "1.0"))
    assert "mirror" in output, output

    upload = admin.post(f"/v2/{name}/blobs/uploads/")
    assert upload.status_code == 403, upload.text
    assert error_codes(upload) == ["DENIED"]
    message = upload.json()["errors"][0]["message"]
    assert "pull-through mirror" in message
    assert basic.registry.host in message
    manifest = admin.put(
        f"/v2/{name}/manifests/1.0",
        content=image.manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert manifest.status_code == 403
    assert error_codes(manifest) == ["DENIED"]
    # No write reached the upstream (skopeo's HEADs of blobs are reads, passed through), and
    # no repository was made.
    upstream = basic.registry.synced_requests()
    writes = [
        r
        for r in upstream
        if r.path.startswith("/v2/team/pushed/") and r.method not in ("GET", "HEAD")
    ]
    assert writes == [], writes
    assert admin.get(f"/api/v1/repositories/{name}").status_code == 404


# -- pulled-through content is listed ------------------------------------------------------


@BASIC
def test_pulled_through_content_is_listed(
    basic: BasicUpstream, client: Skopeo, admin: httpx.Client, tmp_path: Path
) -> None:
    basic.seed("team/listed", "pt-listed")
    name = f"{basic.alias}/team/listed"
    client.pull(name, "1.0", tmp_path / "pulled")

    assert name in admin.get("/v2/_catalog").json()["repositories"]
    assert admin.get(f"/v2/{name}/tags/list").json() == {"name": name, "tags": ["1.0"]}
    [listed] = [r for r in admin.get("/api/v1/repositories").json() if r["name"] == name]
    assert listed["tag-count"] == 1
    assert listed["manifest-count"] == 1
    tags = admin.get(f"/api/v1/repositories/{name}/-/tags")
    assert tags.status_code == 200, tags.text
    assert [t["name"] for t in tags.json()] == ["1.0"]


# -- a corrupt upstream blob is never cached -----------------------------------------------


@BEARER
def test_corrupt_upstream_blob_is_never_cached(
    bearer: BearerUpstream, client: Skopeo, admin: httpx.Client, tmp_path: Path
) -> None:
    image = bearer.seed("team/corrupt", "pt-corrupt")
    name = f"{bearer.alias}/team/corrupt"
    layer = image.layers[1]
    bearer.proxy.corrupt.add(layer.digest)
    try:
        client.failing("copy", *client.src, client.ref(name, "1.0"), f"oci:{tmp_path / 'bad'}:1.0")
        # Nor does a plain GET: regd holds the last byte back until the digest is checked,
        # then cuts the connection (a short body, never a complete 200 of wrong bytes).
        with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|without sending complete"):
            admin.get(f"/v2/{name}/blobs/{layer.digest}")
    finally:
        bearer.proxy.corrupt.discard(layer.digest)
    fetched = bearer.proxy.blob_gets(layer.digest)
    assert fetched >= 2

    client.pull(name, "1.0", tmp_path / "good")
    _assert_pulled(tmp_path / "good", image)
    # It had to be fetched again (nothing was cached), and now it is.
    assert bearer.proxy.blob_gets(layer.digest) == fetched + 1
    again = admin.get(f"/v2/{name}/blobs/{layer.digest}")
    assert digest_of(again.content) == layer.digest
    assert bearer.proxy.blob_gets(layer.digest) == fetched + 1
