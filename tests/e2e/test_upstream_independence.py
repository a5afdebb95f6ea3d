"""Pushes never depend on an upstream, and one regd mirrors several registries for
containerd nodes (``?ns=``) — issue 11.

- With ``default-remote-registry`` set to an upstream that is unreachable, that wants
  credentials or that answers 404, skopeo pushes a new repository all the same: a blob HEAD
  on a name nothing local is under yet is a plain 404 when the upstream cannot answer it.
- containerd, pointed at regd by a node's ``hosts.toml``, sends ``?ns=REGISTRY`` with every
  request. regd serves them from the remote registry whose address is ``ns``, Docker Hub's
  ``library/`` rule included, for two different upstreams: Debian's docker-registry (Basic)
  and another regd (Bearer). Tested twice: with the request shapes containerd sends
  (manifest HEAD by tag, GET by digest, blob GETs, a Bearer token from regd's ``/token``),
  and with Debian's real containerd driven by ``ctr content fetch --hosts-dir``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.clients import Skopeo, make_skopeo, seed_upstream
from tests.e2e.conftest import require, require_tool
from tests.support.images import LayoutImage, read_blob, write_image_layout
from tests.support.oci import OCI_MANIFEST, error_codes
from tests.support.server import ADMIN_PASSWORD, RegdProcess, start_regd
from tests.support.upstreams import DockerRegistry, start_docker_registry
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("upstream-independence")]

PASSWORD = "ui-registry-password"
CONTAINERD_ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "*/*",
    ]
)


@pytest.fixture(scope="module")
def skopeo_bin() -> str:
    return require_tool("skopeo")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerRegistry]:
    binary = require_tool("docker-registry")
    require_tool("htpasswd")
    upstream = start_docker_registry(
        binary, tmp_path_factory.mktemp("ui-registry"), "ui-pusher", PASSWORD
    )
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    """The regd under test: the registry a node pushes to and pulls through."""
    server = start_regd(tmp_path_factory.mktemp("ui-node"))
    yield server
    assert server.stop() == 0, server.log
    assert "Traceback" not in server.log, server.log
    assert PASSWORD not in server.log


@pytest.fixture
def admin(node: RegdProcess) -> Iterator[httpx.Client]:
    with node.client() as http:
        yield http


def _seed(skopeo_bin: str, directory: Path, host: str, creds: str, name: str) -> LayoutImage:
    """Push a fresh image to an upstream as ``name:1.0``."""
    return seed_upstream(skopeo_bin, directory, host, creds, name, name.replace("/", "-"))


def _remote(http: httpx.Client, address: str, override: str, secret: str | None = None) -> None:
    """Make ``address`` a remote registry of the node (once: other tests may have)."""
    if http.get(f"/api/v1/image-registry/remote-registries/{address}").status_code == 200:
        return
    body: dict[str, Any] = {"address": address, "override-address": override}
    if secret is not None:
        vaults = http.get("/api/v1/strongbox/vaults").json()
        if "ui" not in [vault["name"] for vault in vaults]:
            assert http.post("/api/v1/strongbox/vaults", json={"name": "ui"}).status_code == 201
        user, _, password = secret.partition(":")
        data = {"username": user, "password": password}
        made = http.post(
            "/api/v1/strongbox/vaults/ui/secrets",
            json={"name": address.replace(":", "-"), "data": data},
        )
        assert made.status_code == 201, made.text
        body["credentials"] = [
            {"repository": "*", "vault": "ui", "secret": address.replace(":", "-")}
        ]
    created = http.post("/api/v1/image-registry/remote-registries", json=body)
    assert created.status_code == 201, created.text


@contextmanager
def default_remote(http: httpx.Client, address: str) -> Iterator[None]:
    body = {"default-remote-registry": address}
    assert http.patch("/api/v1/image-registry/settings", json=body).status_code == 200
    try:
        yield
    finally:
        body = {"default-remote-registry": None}
        assert http.patch("/api/v1/image-registry/settings", json=body).status_code == 200


def _contents(image: LayoutImage) -> list[bytes]:
    return [read_blob(image.path, digest) for digest in image.blob_digests]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- pushes never depend on an upstream -----------------------------------------------------


@pytest.mark.parametrize("upstream", ["unreachable", "wants-credentials", "answers-404"])
def test_a_push_to_a_new_name_does_not_depend_on_the_default_remote(
    upstream: str,
    registry: DockerRegistry,
    node: RegdProcess,
    admin: httpx.Client,
    skopeo_bin: str,
    tmp_path: Path,
) -> None:
    port = registry.host.rsplit(":", 1)[1]
    if upstream == "unreachable":
        address = f"127.0.0.1:{_closed_port()}"
    elif upstream == "wants-credentials":  # configured without any
        address = f"127.0.0.2:{port}"
        _remote(admin, address, registry.url)
    else:  # with the right credentials: it simply does not have the blobs
        address = f"localhost:{port}"
        _remote(admin, address, registry.url, registry.creds)
    name = f"ui-pushed-{upstream}/app"
    image = write_image_layout(tmp_path / "layout", seed=f"ui-push-{upstream}")
    client: Skopeo = make_skopeo(skopeo_bin, tmp_path / "skopeo", node, node.admin_creds)
    with default_remote(admin, address):
        # What skopeo asks first: is the layer there? Not here, and that is all.
        head = admin.head(f"/v2/{name}/blobs/{image.config_digest}")
        assert head.status_code == 404, head.text
        got = admin.get(f"/v2/{name}/blobs/{image.config_digest}")
        assert error_codes(got) == ["BLOB_UNKNOWN"]
        client.push(image, name, "1.0")
        inspected = client("inspect", "--raw", *client.remote, client.ref(name, "1.0"))
    assert inspected.encode() == image.manifest
    # The pushed repository is local: no default remote is needed to pull it.
    manifest = admin.get(f"/v2/{name}/manifests/1.0", headers={"Accept": OCI_MANIFEST})
    assert manifest.status_code == 200
    assert manifest.headers["Docker-Content-Digest"] == image.digest


# -- containerd's ?ns= ----------------------------------------------------------------------


def _containerd_pull(node: RegdProcess, name: str, tag: str, ns: str) -> list[bytes]:
    """The requests containerd sends to a mirror for ``ns/name:tag``: the manifest HEAD by
    tag, GETs of the manifest and its blobs by digest, each with ``?ns=``; after the 401,
    a Bearer token from regd's /token for the name (without ns). The blobs' bytes."""
    with httpx.Client(base_url=node.url, timeout=30) as http:
        url = f"/v2/{name}/manifests/{tag}"
        params = {"ns": ns}
        first = http.head(url, params=params, headers={"Accept": CONTAINERD_ACCEPT})
        assert first.status_code == 401
        assert first.headers["WWW-Authenticate"].startswith("Bearer ")
        token = http.get(
            "/token",
            params={"scope": f"repository:{name}:pull", "service": "regd"},
            auth=("admin", ADMIN_PASSWORD),
        ).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        head = http.head(url, params=params, headers={**bearer, "Accept": CONTAINERD_ACCEPT})
        assert head.status_code == 200, head.text
        digest = head.headers["Docker-Content-Digest"]
        manifest = http.get(
            f"/v2/{name}/manifests/{digest}",
            params=params,
            headers={**bearer, "Accept": head.headers["Content-Type"]},
        )
        assert manifest.status_code == 200
        body = manifest.json()
        blobs = []
        for descriptor in [body["config"], *body["layers"]]:
            blob = http.get(
                f"/v2/{name}/blobs/{descriptor['digest']}", params=params, headers=bearer
            )
            assert blob.status_code == 200, blob.text
            blobs.append(blob.content)
        return blobs


def test_containerd_ns_serves_two_upstreams_from_one_regd(
    registry: DockerRegistry,
    node: RegdProcess,
    admin: httpx.Client,
    skopeo_bin: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = tmp_path_factory.mktemp("ui-ns")
    # Docker Hub (its address is docker.io; here it is docker-registry) and a second regd.
    hub_image = _seed(skopeo_bin, directory, registry.host, registry.creds, "library/alpine")
    _remote(admin, "docker.io", registry.url, registry.creds)
    other = start_regd(directory / "quay")
    try:
        quay_image = _seed(skopeo_bin, directory, other.host, other.admin_creds, "team/app")
        _remote(admin, "quay.example", other.url, other.admin_creds)

        hub_blobs = _containerd_pull(node, "library/alpine", "1.0", "docker.io")
        assert hub_blobs == _contents(hub_image)
        quay_blobs = _containerd_pull(node, "team/app", "1.0", "quay.example")
        assert quay_blobs == _contents(quay_image)
        # Docker Hub's library/ rule: a bare name is library/NAME.
        with node.client() as http:
            bare = http.head("/v2/alpine/manifests/1.0", params={"ns": "docker.io"})
            assert bare.headers["Docker-Content-Digest"] == hub_image.digest
            # Another Docker Hub address names the same remote.
            index = http.head("/v2/library/alpine/manifests/1.0", params={"ns": "index.docker.io"})
            assert index.status_code == 200
            # A registry regd does not mirror: not found (containerd then asks it directly).
            unknown = http.get("/v2/team/app/manifests/1.0", params={"ns": "ghcr.io"})
            assert unknown.status_code == 404
            assert error_codes(unknown) == ["NAME_UNKNOWN"]
            assert "ns=ghcr.io" in unknown.json()["errors"][0]["message"]
            # ns naming regd itself is no mirror request: its own repositories.
            own = http.get("/v2/team/app/manifests/1.0", params={"ns": node.host})
            assert own.status_code == 404
            assert "ns=" not in own.text
            # What was pulled is cached under each remote's alias.
            cached = http.head("/v2/docker.io/library/alpine/manifests/1.0")
            assert cached.headers["Docker-Content-Digest"] == hub_image.digest
    finally:
        assert other.stop() == 0, other.log


# -- a real containerd ----------------------------------------------------------------------

_CONTAINERD_CONFIG = """version = 2
root = "{root}/root"
state = "{root}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{root}/containerd.sock"
[ttrpc]
  address = "{root}/containerd.sock.ttrpc"
[debug]
  address = "{root}/debug.sock"
"""


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Debian's containerd on a socket of its own (no CRI, no snapshotter that needs the
    kernel's help): ``ctr`` and the socket."""
    binary = require_tool("containerd")
    ctr = require_tool("ctr")
    require(os.geteuid() == 0, "containerd runs as root")
    root = Path(tempfile.mkdtemp(prefix="ctrd-"))  # short: a unix socket path is <108 bytes
    config = root / "config.toml"
    config.write_text(_CONTAINERD_CONFIG.format(root=root))
    log = (tmp_path_factory.mktemp("containerd") / "containerd.log").open("w")
    process = subprocess.Popen([binary, "--config", str(config)], stdout=log, stderr=log)
    socket_path = root / "containerd.sock"
    try:
        wait_until(
            lambda: (
                subprocess.run(
                    [ctr, "-a", str(socket_path), "version"], capture_output=True
                ).returncode
                == 0
            ),
            30,
            "containerd to answer",
        )
        yield ctr, socket_path
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def test_ctr_pulls_two_registries_through_regd_with_ns(
    containerd: tuple[str, Path],
    registry: DockerRegistry,
    node: RegdProcess,
    admin: httpx.Client,
    skopeo_bin: str,
    tmp_path: Path,
) -> None:
    """ctr with a hosts.toml per registry, each pointing at regd as its mirror."""
    ctr, socket_path = containerd
    hub_image = _seed(skopeo_bin, tmp_path, registry.host, registry.creds, "library/busybox")
    _remote(admin, "docker.io", registry.url, registry.creds)
    other = start_regd(tmp_path / "ghcr")
    try:
        ghcr_image = _seed(skopeo_bin, tmp_path, other.host, other.admin_creds, "org/tool")
        _remote(admin, "ghcr.example", other.url, other.admin_creds)
        hosts = tmp_path / "certs.d"
        for upstream in ("docker.io", "ghcr.example"):
            (hosts / upstream).mkdir(parents=True)
            (hosts / upstream / "hosts.toml").write_text(
                f'server = "https://{upstream}"\n\n'
                f'[host."{node.url}"]\n  capabilities = ["pull", "resolve"]\n'
            )
        for reference, image in (
            ("docker.io/library/busybox:1.0", hub_image),
            ("ghcr.example/org/tool:1.0", ghcr_image),
        ):
            fetched = subprocess.run(
                [
                    ctr,
                    "-a",
                    str(socket_path),
                    "content",
                    "fetch",
                    "--hosts-dir",
                    str(hosts),
                    "--user",
                    node.admin_creds,
                    reference,
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert fetched.returncode == 0, fetched.stdout + fetched.stderr
            for digest in [image.digest, *image.blob_digests]:
                got = subprocess.run(
                    [ctr, "-a", str(socket_path), "content", "get", digest],
                    capture_output=True,
                    timeout=60,
                )
                assert got.returncode == 0, got.stderr
                expected = (
                    image.manifest if digest == image.digest else read_blob(image.path, digest)
                )
                assert got.stdout == expected
        # regd cached both, under each remote's alias.
        assert admin.head("/v2/docker.io/library/busybox/manifests/1.0").status_code == 200
        assert admin.head("/v2/ghcr.example/org/tool/manifests/1.0").status_code == 200
    finally:
        assert other.stop() == 0, other.log
