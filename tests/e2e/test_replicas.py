"""Three regd replicas that share nothing but PostgreSQL and Swift, behind HAProxy.

The replicas (tests/support/replicas.py) start at the same moment on an empty database
and a new Swift container, each with its own data directory and the same
``REGD_MASTER_KEY``; HAProxy balances every request round robin. skopeo and podman push
and pull through the balancer; an upload's chunks are sent to the replicas directly, one
each; every kind of shared state is changed through one replica and read through another
on the very next request; and one replica is SIGKILLed in the middle of 20 concurrent
pushes, which retry through the balancer.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
import pytest

from tests.e2e.accounts import ADMIN
from tests.e2e.clients import make_podman, make_skopeo
from tests.e2e.conftest import require, write_policy
from tests.support.access_log import logged_request
from tests.support.identities import (
    bearer_client,
    client_as,
    create_token,
    create_user,
    set_access_rule,
)
from tests.support.images import write_image_layout
from tests.support.oci import (
    OCI_MANIFEST,
    assert_oci_error,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
    push_manifest,
    start_upload,
    upload_range,
)
from tests.support.postgres import (
    PostgresCluster,
    postgres_cluster_fixture,
    postgres_url_fixture,
)
from tests.support.replicas import Replicas, running_replicas
from tests.support.server import ADMIN_PASSWORD, RegdProcess
from tests.support.swift import SwiftServer, swift_server_fixture
from tests.support.waiting import wait_until

__all__ = ["postgres_cluster_fixture", "postgres_url_fixture", "swift_server_fixture"]

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("replicas"), pytest.mark.timeout(300)]

_REMOTES = "/api/v1/image-registry/remote-registries"
_SETTINGS = "/api/v1/image-registry/settings"
_ADMIN = ("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def replicas(
    postgres_url: str, swift_server: SwiftServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("replicas")
    with running_replicas(root, 3, postgres_url, swift_server, "--access-log") as started:
        yield started


def _rows(cluster: PostgresCluster, url: str, sql: str) -> list[tuple[object, ...]]:
    import asyncio

    return asyncio.run(cluster.query(url, sql))


def _registry_token(server: RegdProcess, scope: str = "repository:any/thing:pull") -> str:
    with server.client() as admin:
        response = admin.get("/token", params={"service": "regd", "scope": scope})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _served(server: RegdProcess) -> int:
    """How many /v2/ requests ``server`` logged (its access log)."""
    found = (logged_request(line) for line in server.log.splitlines())
    return sum(1 for request in found if request and request.url.path.startswith("/v2/"))


# -- start-up --------------------------------------------------------------------------


def test_three_replicas_started_at_once_agree_on_admin_keys_and_master_key(
    replicas: Replicas, postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    def count(table: str) -> object:
        return _rows(postgres_cluster, postgres_url, f"SELECT count(*) FROM {table}")[0][0]

    assert _rows(postgres_cluster, postgres_url, "SELECT name, admin FROM users") == [
        ("admin", True)
    ]
    assert count("signing_keys") == 1
    assert count("master_key_records") == 1
    # One key set: a token signed by any replica is accepted by every other.
    tokens = [_registry_token(replicas.member(index)) for index in range(3)]
    assert len({_kid(token) for token in tokens}) == 1
    for index, token in enumerate(tokens):
        other = replicas.member((index + 1) % 3)
        with bearer_client(other, token) as http:
            assert http.get("/v2/").status_code == 200
    # Nothing key-related in any replica's own data directory: the master key came from
    # the environment, the signing keys live (sealed) in the database.
    for index in range(3):
        assert list(replicas.data_dir(index).iterdir()) == []


def test_a_replica_with_another_master_key_is_refused_at_start(
    replicas: Replicas, tmp_path: Path
) -> None:
    env = {**replicas.env, "REGD_MASTER_KEY": "B" * 43 + "="}
    serve = ["serve", "--addr", "127.0.0.1:0", "--data-dir", str(tmp_path), *replicas.extra]
    done = subprocess.run(
        [sys.executable, "-m", "regd", *serve],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("regd: master key: "), done.stderr


# -- real clients through the balancer --------------------------------------------------


def test_skopeo_pushes_and_pulls_through_the_balancer(
    replicas: Replicas, skopeo: str, tmp_path: Path
) -> None:
    front = replicas.front
    before = [_served(replicas.member(index)) for index in range(3)]
    client = make_skopeo(skopeo, tmp_path / "skopeo", front, front.admin_creds)
    image = write_image_layout(tmp_path / "layout", "1.0", seed="replicas-skopeo")
    client("copy", "--retry-times", "3", *client.dest, image.reference, client.ref("lb/app", "1.0"))
    pulled = tmp_path / "pulled"
    client(
        "copy", "--retry-times", "3", *client.src, client.ref("lb/app", "1.0"), f"oci:{pulled}:1.0"
    )
    for digest in (image.digest, image.config_digest, *image.blob_digests):
        algorithm, _, hexdigest = digest.partition(":")
        stored = (pulled / "blobs" / algorithm / hexdigest).read_bytes()
        assert digest_of(stored) == digest
    # Round robin per request: every replica answered part of it.
    wait_until(
        lambda: all(_served(replicas.member(i)) > before[i] for i in range(3)),
        10,
        "each replica's access log to show a /v2/ request",
    )


def test_podman_pushes_and_pulls_through_the_balancer(
    replicas: Replicas, podman: str, podman_root: Path, tmp_path: Path
) -> None:
    require(os.geteuid() == 0, "the podman test runs podman as root")
    front = replicas.front
    client = make_podman(podman, podman_root, front.host)
    assert "Login Succeeded" in client.login(front.host, ADMIN.name, ADMIN.secret)
    policy = write_policy(tmp_path)
    image = write_image_layout(tmp_path / "layout", "1.0", seed="replicas-podman")
    target = f"{front.host}/lb/podman:1.0"
    image_id = client("pull", "--quiet", "--signature-policy", policy, image.reference)
    client("tag", image_id, target)
    digest_file = tmp_path / "digest"
    client("push", "--signature-policy", policy, "--digestfile", digest_file, target)
    client("rmi", "--all", "--force")
    assert client("pull", "--quiet", "--signature-policy", policy, target) == image_id
    for index in range(3):  # and each replica serves what went through the balancer
        with replicas.member(index).client() as http:
            response = http.get("/v2/lb/podman/manifests/1.0", headers={"Accept": OCI_MANIFEST})
            assert response.status_code == 200, response.text
            assert digest_of(response.content) == digest_file.read_text().strip()


# -- one upload, three replicas ---------------------------------------------------------


def test_a_chunked_upload_whose_chunks_land_on_different_replicas(replicas: Replicas) -> None:
    # Chunks around the store's part size (8 MiB; a tail under 5 MiB is rewritten by the
    # next chunk), each sent to another replica than the one before.
    sizes = [3 << 20, 7 << 20, 1 << 20, (6 << 20) + 123]
    chunks = [os.urandom(size) for size in sizes]
    data = b"".join(chunks)
    clients = [replicas.member(index).client() for index in range(3)]
    try:
        session = start_upload(clients[0], "lb/chunked")
        offset = 0
        for turn, chunk in enumerate(chunks, start=1):
            http = clients[turn % 3]
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            }
            response = http.patch(session.location, content=chunk, headers=headers)
            assert response.status_code == 202, response.text
            offset += len(chunk)
            assert upload_range(response) == offset
            # The next replica knows where the upload stands.
            status = clients[(turn + 1) % 3].get(session.location)
            assert status.status_code == 204, status.text
            assert upload_range(status) == offset
        done = clients[2].put(session.location, params={"digest": digest_of(data)})
        assert done.status_code == 201, done.text
        for http in clients:
            response = http.get(f"/v2/lb/chunked/blobs/{digest_of(data)}")
            assert response.status_code == 200
            assert hashlib.sha256(response.content).hexdigest() == digest_of(data)[7:]
    finally:
        for http in clients:
            http.close()


# -- every kind of shared state: changed through one replica, read through another ------


@dataclass
class Pair:
    """Replica ``a`` changes, replica ``b`` reads; ``b`` has cached the old state first."""

    replicas: Replicas
    a: httpx.Client
    b: httpx.Client
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def member_b(self) -> RegdProcess:
        return self.replicas.member(1)

    @property
    def member_c(self) -> RegdProcess:
        return self.replicas.member(2)


def _digest_of_tag(http: httpx.Client, name: str, tag: str) -> str:
    response = http.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200, response.text
    return digest_of(response.content)


def _tags(pair: Pair) -> None:
    name = f"state/tags-{pair.tag}"
    first = push_image(pair.a, name, "latest", seed=f"tags-1-{pair.tag}")
    assert _digest_of_tag(pair.b, name, "latest") == first.digest
    assert pair.b.get(f"/v2/{name}/tags/list").json()["tags"] == ["latest"]
    second = push_image(pair.a, name, "latest", seed=f"tags-2-{pair.tag}")
    assert push_manifest(pair.a, name, "1.0", first.manifest).status_code == 201
    assert _digest_of_tag(pair.b, name, "latest") == second.digest
    assert pair.b.get(f"/v2/{name}/tags/list").json()["tags"] == ["1.0", "latest"]


def _manifests(pair: Pair) -> None:
    name = f"state/manifests-{pair.tag}"
    image = push_image(pair.a, name, "1.0", seed=f"manifests-{pair.tag}")
    assert pair.b.get(f"/v2/{name}/manifests/{image.digest}").status_code == 200
    assert pair.a.delete(f"/v2/{name}/manifests/{image.digest}").status_code == 202
    assert_oci_error(pair.b.get(f"/v2/{name}/manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN")


def _blob_links(pair: Pair) -> None:
    name = f"state/blobs-{pair.tag}"
    digest = push_blob(pair.a, name, f"blob-link-{pair.tag}".encode())
    assert pair.b.head(f"/v2/{name}/blobs/{digest}").status_code == 200
    assert pair.a.delete(f"/v2/{name}/blobs/{digest}").status_code == 202
    assert pair.b.head(f"/v2/{name}/blobs/{digest}").status_code == 404
    config = f"config-{pair.tag}".encode()
    push_blob(pair.a, name, config)  # linked again through a: b sees it
    assert pair.b.head(f"/v2/{name}/blobs/{digest_of(config)}").status_code == 200


def _users(pair: Pair) -> None:
    user = f"u-{pair.tag}"
    create_user(pair.a, user, "first-password")
    with client_as(pair.member_b, (user, "first-password")) as on_b:
        for _ in range(2):  # the second answer comes from b's credential cache
            assert on_b.get("/v2/").status_code == 200
        changed = pair.a.patch(f"/api/v1/users/{user}", json={"password": "second-password"})
        assert changed.status_code == 200, changed.text
        assert on_b.get("/v2/").status_code == 401
    with client_as(pair.member_b, (user, "second-password")) as on_b:
        assert on_b.get("/v2/").status_code == 200
        assert pair.a.delete(f"/api/v1/users/{user}").status_code == 204
        assert on_b.get("/v2/").status_code == 401


def _grants(pair: Pair) -> None:
    name = f"state/grants-{pair.tag}"
    user = f"g-{pair.tag}"
    push_image(pair.a, name, "1.0", seed=f"grants-{pair.tag}")
    create_user(pair.a, user, "grants-password")
    with client_as(pair.member_b, (user, "grants-password")) as on_b:
        assert on_b.get(f"/v2/{name}/manifests/1.0").status_code == 403
        assert set_access_rule(pair.a, name, f"user:{user}", ["pull"]).status_code in (200, 201)
        assert on_b.get(f"/v2/{name}/manifests/1.0").status_code == 200
        removed = pair.a.delete(f"/api/v1/repositories/{name}/-/access-rules/user:{user}")
        assert removed.status_code == 204, removed.text
        assert on_b.get(f"/v2/{name}/manifests/1.0").status_code == 403


def _tokens(pair: Pair) -> None:
    accessor, token = create_token(pair.a, "1h")
    with bearer_client(pair.member_b, token) as on_b:
        for _ in range(2):
            assert on_b.get("/api/v1/tokens").status_code == 200
        assert pair.a.delete(f"/api/v1/tokens/{accessor}").status_code == 204
        assert on_b.get("/api/v1/tokens").status_code == 401


def _remote_registries(pair: Pair) -> None:
    address = f"upstream-{pair.tag}.example"
    assert address not in [remote["address"] for remote in pair.b.get(_REMOTES).json()]
    first, second = (
        {"override-address": "http://127.0.0.1:1"},
        {"override-address": "http://127.0.0.1:2"},
    )
    added = pair.a.post(_REMOTES, json={"address": address, **first})
    assert added.status_code == 201, added.text
    assert pair.b.get(f"{_REMOTES}/{address}").json()["override-address"] == "http://127.0.0.1:1"
    replaced = pair.a.put(f"{_REMOTES}/{address}", json={"address": address, **second})
    assert replaced.status_code == 200, replaced.text
    assert pair.b.get(f"{_REMOTES}/{address}").json()["override-address"] == "http://127.0.0.1:2"
    assert pair.a.delete(f"{_REMOTES}/{address}").status_code == 204
    assert pair.b.get(f"{_REMOTES}/{address}").status_code == 404


def _settings(pair: Pair) -> None:
    assert pair.b.get(_SETTINGS).json()["tag-ttl"] == 300
    changed = pair.a.patch(_SETTINGS, json={"tag-ttl": 1234})
    assert changed.status_code == 200, changed.text
    assert pair.b.get(_SETTINGS).json()["tag-ttl"] == 1234
    assert pair.a.put(_SETTINGS, json={}).status_code == 200
    assert pair.b.get(_SETTINGS).json()["tag-ttl"] == 300


def _strongbox_secrets(pair: Pair) -> None:
    vault = f"v-{pair.tag}"
    secret = f"/api/v1/strongbox/vaults/{vault}/secrets/hub"
    assert pair.a.post("/api/v1/strongbox/vaults", json={"name": vault}).status_code == 201
    body = {"name": "hub", "data": {"username": "robot", "password": "first"}}
    created = pair.a.post(f"/api/v1/strongbox/vaults/{vault}/secrets", json=body)
    assert created.status_code == 201, created.text
    assert pair.b.get(secret).json()["data"]["password"] == "first"
    replaced = pair.a.put(secret, json={"data": {"username": "robot", "password": "second"}})
    assert replaced.status_code == 200, replaced.text
    assert pair.b.get(secret).json()["data"]["password"] == "second"
    assert pair.a.delete(secret).status_code == 204
    assert pair.b.get(secret).status_code == 404


def _signing_keys(pair: Pair) -> None:
    """Rotated by `regd rotate-keys` (an operator's host: only the database URL and the
    master key in common): b signs with the new key at its next token, c (which never
    saw it) verifies it, and tokens signed before stay valid."""
    old = _registry_token(pair.member_b)
    rotated = subprocess.run(
        [sys.executable, "-m", "regd", "rotate-keys", "--data-dir", str(pair.replicas.root / "op")],
        env={**os.environ, **pair.replicas.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stderr.split("new signing key ")[1].split(";")[0]
    new = _registry_token(pair.member_b)
    assert _kid(new) == new_kid != _kid(old)
    for token in (new, old):
        with bearer_client(pair.member_c, token) as on_c:
            assert on_c.get("/v2/").status_code == 200
    assert not (pair.replicas.root / "op" / "keys").exists()


KINDS: dict[str, Callable[[Pair], None]] = {
    "tags": _tags,
    "manifests": _manifests,
    "blob-links": _blob_links,
    "users": _users,
    "grants": _grants,
    "tokens": _tokens,
    "remote-registries": _remote_registries,
    "settings": _settings,
    "strongbox-secrets": _strongbox_secrets,
    "signing-keys": _signing_keys,
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_shared_state_changed_through_one_replica_is_read_through_another(
    replicas: Replicas, kind: str
) -> None:
    with replicas.member(0).client() as a, replicas.member(1).client() as b:
        KINDS[kind](Pair(replicas, a, b))


# -- a replica killed in the middle of 20 concurrent pushes -----------------------------

PUSHERS = 20
ATTEMPTS = 8


@dataclass
class Acks:
    """What the registry acknowledged (201), with when, as the pushers saw it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    blobs: list[tuple[float, str, str, bytes]] = field(default_factory=list)
    manifests: list[tuple[float, str, str]] = field(default_factory=list)
    retries: int = 0

    def __len__(self) -> int:
        return len(self.blobs) + len(self.manifests)


def _retrying(acks: Acks, step: Callable[[], httpx.Response]) -> httpx.Response:
    """``step`` until it is acknowledged: a lost connection, a 5xx or an upload the dead
    replica was holding the bytes of starts the step again."""
    for _ in range(ATTEMPTS):
        try:
            response = step()
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 201:
            return response
        with acks.lock:
            acks.retries += 1
    seen = "no response" if response is None else f"{response.status_code} {response.text}"
    raise AssertionError(f"not acknowledged after {ATTEMPTS} attempts: {seen}")


def _push_chunked(http: httpx.Client, name: str, blob: bytes) -> httpx.Response:
    started = http.post(f"/v2/{name}/blobs/uploads/")
    if started.status_code != 202:
        return started
    location = started.headers["Location"]
    half = len(blob) // 2
    for offset, chunk in ((0, blob[:half]), (half, blob[half:])):
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
        }
        patched = http.patch(location, content=chunk, headers=headers)
        if patched.status_code != 202:
            return patched
    return http.put(location, params={"digest": digest_of(blob)})


def _pusher(front: RegdProcess, acks: Acks, index: int) -> None:
    name = f"kill/app-{index}"
    with front.client(_ADMIN) as http:
        blobs = [os.urandom(384 << 10) for _ in range(2)]
        config = json.dumps({"architecture": "amd64", "os": "linux", "n": index}).encode()
        for blob in (*blobs, config):
            _retrying(acks, functools.partial(_push_chunked, http, name, blob))
            with acks.lock:
                acks.blobs.append((time.monotonic(), name, digest_of(blob), blob))
        manifest = image_manifest(config, blobs)
        _retrying(acks, lambda: push_manifest(http, name, "1.0", manifest))
        with acks.lock:
            acks.manifests.append((time.monotonic(), name, digest_of(manifest)))


def test_sigkill_one_replica_in_the_middle_of_20_concurrent_pushes(replicas: Replicas) -> None:
    front = replicas.front
    acks = Acks()
    with ThreadPoolExecutor(PUSHERS) as pool:
        futures = [pool.submit(_pusher, front, acks, index) for index in range(PUSHERS)]
        wait_until(lambda: len(acks) >= PUSHERS, 120, f"{PUSHERS} acknowledgements")
        killed_at = time.monotonic()
        killed = replicas.kill(1)
        assert killed.process.returncode == -9
        for future in futures:
            future.result()
    before = [ack for ack in acks.blobs if ack[0] < killed_at]
    after = [ack for ack in acks.blobs if ack[0] >= killed_at]
    assert before, "nothing was acknowledged before the kill"
    assert after, "every push had finished before the kill"
    assert len(acks.manifests) == PUSHERS
    print(f"blobs acknowledged: {len(before)} before the kill, {len(after)} after")
    print(f"steps retried: {acks.retries}")
    # Everything acknowledged (before the kill above all) is intact, through the balancer
    # and through each surviving replica.
    for server in (front, replicas.member(0), replicas.member(2)):
        with server.client() as http:
            for _, name, digest, blob in acks.blobs:
                response = http.get(f"/v2/{name}/blobs/{digest}")
                assert response.status_code == 200, (name, digest, response.status_code)
                assert response.content == blob
            for _, name, digest in acks.manifests:
                assert _digest_of_tag(http, name, "1.0") == digest
    # The killed replica comes back with an empty data directory of its own and serves it all.
    restarted = replicas.start(1)
    with restarted.client() as http:
        for _, name, digest in acks.manifests:
            assert _digest_of_tag(http, name, "1.0") == digest


def test_each_replica_logged_no_error_and_kept_nothing_in_its_data_directory(
    replicas: Replicas,
) -> None:
    for index, server in enumerate(replicas.members):
        assert server is not None, f"replica {index} is down"
        assert list(replicas.data_dir(index).iterdir()) == []
        assert "Traceback" not in server.log, server.log
        assert " 500 " not in server.log, server.log
