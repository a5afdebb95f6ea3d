"""regd on PostgreSQL, over real HTTP: one regd, and two replicas on one database.

A throwaway PostgreSQL cluster (tests/support/postgres.py) holds one database for this
module. Two ``regd serve`` processes — replicas ``a`` and ``b`` — start at the same time
on it (both run the migrations at start: they must take turns) and share one data
directory, which stands in for the shared blob store. Most single-regd behaviour is shown
through ``a``; every cross-replica test first makes ``b`` cache what it then changes
through ``a``, and expects ``b`` to answer the new state on the very next request: no
sleep, no polling (regd's replica caches are validated against the database, see
docs/operations.md, "Several replicas on PostgreSQL").
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from regd import tls
from tests.support.identities import (
    bearer_client,
    client_as,
    create_token,
    create_user,
    set_access_rule,
)
from tests.support.oci import (
    assert_oci_error,
    blob_path,
    digest_of,
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
from tests.support.server import ADMIN_PASSWORD, RegdProcess, start_regd
from tests.support.upstreams import FaultyProxy

pytestmark = pytest.mark.timeout(120)
__all__ = ["postgres_cluster_fixture", "postgres_url_fixture"]  # fixtures used by name

_LINK = re.compile(r'<(?P<url>[^>]+)>;\s*rel="next"')
_REMOTES = "/api/v1/image-registry/remote-registries"
_SETTINGS = "/api/v1/image-registry/settings"
_FREED = re.compile(r"regd gc: freed (?P<links>\d+) blob link\(s\), (?P<blobs>\d+) blob\(s\)")


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory both replicas use (blobs, uploads, keys): the shared store."""
    return tmp_path_factory.mktemp("pg-shared")


@pytest.fixture(scope="module")
def replicas(postgres_url: str, shared_dir: Path) -> Iterator[tuple[RegdProcess, RegdProcess]]:
    """Two regd replicas started at once on one fresh database and one data directory."""
    env = {"REGD_DATABASE_URL": postgres_url}
    with ThreadPoolExecutor(2) as pool:
        starting = [pool.submit(start_regd, shared_dir, env=env) for _ in range(2)]
        started = []
        errors = []
        for future in starting:
            try:
                started.append(future.result())
            except Exception as error:
                errors.append(error)
    if errors:
        for server in started:
            server.stop()
        raise errors[0]
    a, b = started
    yield a, b
    for server in (a, b):
        assert server.stop() == 0, server.log


@pytest.fixture(scope="module")
def a(replicas: tuple[RegdProcess, RegdProcess]) -> RegdProcess:
    return replicas[0]


@pytest.fixture(scope="module")
def b(replicas: tuple[RegdProcess, RegdProcess]) -> RegdProcess:
    return replicas[1]


def _rows(cluster: PostgresCluster, url: str, sql: str) -> list[tuple[Any, ...]]:
    return asyncio.run(cluster.query(url, sql))


def _walk(client: httpx.Client, path: str, key: str, n: int) -> list[str]:
    """Every item of a paginated listing, following ``Link`` from ``path?n=``."""
    items: list[str] = []
    url: str | None = f"{path}?n={n}"
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.text
        page = response.json()[key]
        assert len(page) <= n
        items.extend(page)
        link = response.headers.get("Link")
        match = _LINK.fullmatch(link.strip()) if link else None
        url = match.group("url") if match else None
        assert len(items) < 10_000
    return items


def _tags(client: httpx.Client, name: str) -> list[str]:
    response = client.get(f"/v2/{name}/tags/list")
    assert response.status_code == 200, response.text
    return list(response.json()["tags"])


def _digest_of_tag(client: httpx.Client, name: str, tag: str) -> str:
    response = client.get(
        f"/v2/{name}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["Docker-Content-Digest"] == digest_of(response.content)
    return digest_of(response.content)


# -- on PostgreSQL ---------------------------------------------------------------------------


def _alembic_head() -> str:
    """The newest migration (read from the scripts, so adding one does not break this)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import regd.db.migrate

    config = Config()
    config.set_main_option("script_location", str(regd.db.migrate._MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_replicas_started_at_once_migrated_once(
    a: RegdProcess, b: RegdProcess, postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    assert _rows(postgres_cluster, postgres_url, "SELECT version_num FROM alembic_version") == [
        (_alembic_head(),)
    ]
    admins = "SELECT count(*) FROM users WHERE name = 'admin'"
    assert _rows(postgres_cluster, postgres_url, admins) == [(1,)]
    for server in (a, b):
        with server.client() as admin:
            assert admin.get("/readyz").status_code == 200
        assert "Traceback" not in server.log, server.log


def test_push_and_pull_an_image(a: RegdProcess) -> None:
    with a.client() as admin:
        image = push_image(admin, "pg/app", "1.0", seed="pg-push")
        assert _digest_of_tag(admin, "pg/app", "1.0") == image.digest
        by_digest = admin.get(
            f"/v2/pg/app/manifests/{image.digest}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert by_digest.content == image.manifest
        for blob in (image.config, *image.layers):
            response = admin.get(f"/v2/pg/app/blobs/{digest_of(blob)}")
            assert response.status_code == 200
            assert response.content == blob
        # pushing the same image again is idempotent (ON CONFLICT paths)
        assert push_image(admin, "pg/app", "1.0", seed="pg-push").digest == image.digest
        assert _tags(admin, "pg/app") == ["1.0"]


def test_tags_and_catalog_are_in_byte_order_page_by_page(a: RegdProcess) -> None:
    """The database's collation (ICU en-US here) would sort ``a`` before ``B`` and ``_``
    before ``-``; the distribution spec wants code-point order."""
    tags = ["B", "a", "a-b", "a.b", "a_b", "Z9", "0", "b", "A"]
    names = [f"pg-order/{leaf}" for leaf in ("a-b", "a.b", "a_b", "ab", "a/b", "a0")]
    with a.client() as admin:
        image = push_image(admin, "pg-order/tags", tags[0], seed="pg-order")
        for tag in tags[1:]:
            assert push_manifest(admin, "pg-order/tags", tag, image.manifest).status_code == 201
        expected = sorted(tags, key=lambda tag: tag.encode())
        assert expected != sorted(tags, key=str.casefold)
        assert _tags(admin, "pg-order/tags") == expected
        for n in (1, 2, 4):
            assert _walk(admin, "/v2/pg-order/tags/tags/list", "tags", n) == expected
        page = admin.get("/v2/pg-order/tags/tags/list", params={"n": 3, "last": "a-b"})
        assert page.json()["tags"] == expected[expected.index("a-b") + 1 :][:3]
        for name in names:
            push_blob(admin, name, b"pg-order")
        catalog = _walk(admin, "/v2/_catalog", "repositories", 2)
        assert catalog == sorted(catalog, key=lambda name: name.encode())
        ours = [name for name in catalog if name.startswith("pg-order/") and name in names]
        assert ours == sorted(names, key=lambda name: name.encode())
        # the management API lists in the same order
        listed = [r["name"] for r in admin.get("/api/v1/repositories").json()]
        assert listed == sorted(listed, key=lambda name: name.encode())


def test_manifest_delete(a: RegdProcess) -> None:
    with a.client() as admin:
        image = push_image(admin, "pg/delete", "1.0", seed="pg-delete")
        assert admin.delete(f"/v2/pg/delete/manifests/{image.digest}").status_code == 202
        assert_oci_error(
            admin.get(f"/v2/pg/delete/manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN"
        )
        assert_oci_error(admin.get("/v2/pg/delete/manifests/1.0"), 404, "MANIFEST_UNKNOWN")
        assert _tags(admin, "pg/delete") == []
        assert_oci_error(
            admin.delete(f"/v2/pg/delete/manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN"
        )


def test_users_and_tokens_through_the_api(a: RegdProcess) -> None:
    with a.client() as admin:
        create_user(admin, "pg-ursula", "pg-ursula-password", policies=["registry-push"])
        users = [user["name"] for user in admin.get("/api/v1/users").json()]
        assert "pg-ursula" in users
    with a.client(("pg-ursula", "pg-ursula-password")) as ursula:
        accessor, token = create_token(ursula, "1h", name="ci")
        assert [t["id"] for t in ursula.get("/api/v1/tokens").json()] == [accessor]
    with bearer_client(a, token) as bearer:
        image = push_image(bearer, "pg/by-token", "1.0", seed="pg-token")
        assert _digest_of_tag(bearer, "pg/by-token", "1.0") == image.digest
        assert bearer.delete(f"/api/v1/tokens/{accessor}").status_code == 204
        assert bearer.get("/v2/pg/by-token/tags/list").status_code == 401


def test_strongbox_secret_round_trip(a: RegdProcess) -> None:
    with a.client() as admin:
        assert admin.post("/api/v1/strongbox/vaults", json={"name": "pg-vault"}).status_code == 201
        created = admin.post(
            "/api/v1/strongbox/vaults/pg-vault/secrets",
            json={"name": "hub", "data": {"username": "robot", "password": "pg-s3cret-value"}},
        )
        assert created.status_code == 201, created.text
        shown = admin.get("/api/v1/strongbox/vaults/pg-vault/secrets/hub")
        assert shown.status_code == 200, shown.text
        assert shown.json()["data"] == {"username": "robot", "password": "pg-s3cret-value"}


def test_regd_gc_on_postgresql(
    a: RegdProcess, b: RegdProcess, shared_dir: Path, postgres_url: str
) -> None:
    with a.client() as admin:
        image = push_image(admin, "pg/gc", "1.0", seed="pg-gc")
        keep = push_image(admin, "pg/gc-keep", "1.0", seed="pg-gc-keep")
        # b has the links in its cache
        with b.client() as on_b:
            for blob in (image.config, *image.layers):
                assert on_b.head(f"/v2/pg/gc/blobs/{digest_of(blob)}").status_code == 200
        assert admin.delete(f"/v2/pg/gc/manifests/{image.digest}").status_code == 202
    done = subprocess.run(
        [sys.executable, "-m", "regd", "gc", "--data-dir", str(shared_dir), "--grace", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "REGD_DATABASE_URL": postgres_url},
    )
    assert done.returncode == 0, done.stderr
    freed = _FREED.search(done.stdout)
    assert freed is not None, done.stdout
    assert int(freed["links"]) >= 3
    assert int(freed["blobs"]) >= 3
    for blob in (image.config, *image.layers):
        assert not blob_path(shared_dir, digest_of(blob)).exists()
    for server in (a, b):  # gone at once on both replicas, caches and all
        with server.client() as client:
            for blob in (image.config, *image.layers):
                assert client.head(f"/v2/pg/gc/blobs/{digest_of(blob)}").status_code == 404
            for blob in (keep.config, *keep.layers):
                response = client.get(f"/v2/pg/gc-keep/blobs/{digest_of(blob)}")
                assert response.status_code == 200
                assert response.content == blob


# -- two replicas ------------------------------------------------------------------------------


def test_push_through_one_replica_pull_through_the_other(a: RegdProcess, b: RegdProcess) -> None:
    with a.client() as on_a, b.client() as on_b:
        image = push_image(on_a, "rep/app", "1.0", seed="rep-push")
        assert _digest_of_tag(on_b, "rep/app", "1.0") == image.digest
        for blob in (image.config, *image.layers):
            assert on_b.get(f"/v2/rep/app/blobs/{digest_of(blob)}").content == blob
        assert _tags(on_b, "rep/app") == ["1.0"]
        # and the other way round, mounting from a repository b has never written
        mounted = on_b.post(
            "/v2/rep/mounted/blobs/uploads/",
            params={"mount": digest_of(image.config), "from": "rep/app"},
        )
        assert mounted.status_code == 201, mounted.text
        assert on_a.get(f"/v2/rep/mounted/blobs/{digest_of(image.config)}").content == image.config


def test_a_chunked_upload_moves_between_replicas(a: RegdProcess, b: RegdProcess) -> None:
    chunks = [b"rep-chunk-one-", b"rep-chunk-two-", b"rep-chunk-three"]
    data = b"".join(chunks)
    with a.client() as on_a, b.client() as on_b:
        session = start_upload(on_a, "rep/chunked")
        offset = 0
        for client, chunk in zip((on_b, on_a, on_b), chunks, strict=True):
            response = client.patch(
                session.location,
                content=chunk,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                },
            )
            assert response.status_code == 202, response.text
            offset += len(chunk)
            assert upload_range(response) == offset
        done = on_a.put(session.location, params={"digest": digest_of(data)})
        assert done.status_code == 201, done.text
        assert on_b.get(f"/v2/rep/chunked/blobs/{digest_of(data)}").content == data


def test_a_tag_moved_through_one_replica_is_seen_by_the_other(
    a: RegdProcess, b: RegdProcess
) -> None:
    with a.client() as on_a, b.client() as on_b:
        first = push_image(on_a, "rep/move", "latest", seed="rep-move-1")
        assert _digest_of_tag(on_b, "rep/move", "latest") == first.digest  # b caches it
        assert _tags(on_b, "rep/move") == ["latest"]
        second = push_image(on_a, "rep/move", "latest", seed="rep-move-2")
        assert _digest_of_tag(on_b, "rep/move", "latest") == second.digest
        assert push_manifest(on_a, "rep/move", "1.0", first.manifest).status_code == 201
        assert _tags(on_b, "rep/move") == ["1.0", "latest"]


def test_a_tag_deleted_through_one_replica_is_gone_from_the_other(
    a: RegdProcess, b: RegdProcess
) -> None:
    with a.client() as on_a, b.client() as on_b:
        image = push_image(on_a, "rep/untag", "old", seed="rep-untag")
        assert push_manifest(on_a, "rep/untag", "new", image.manifest).status_code == 201
        assert _digest_of_tag(on_b, "rep/untag", "old") == image.digest
        assert _tags(on_b, "rep/untag") == ["new", "old"]
        assert on_a.delete("/v2/rep/untag/manifests/old").status_code == 202
        assert_oci_error(on_b.get("/v2/rep/untag/manifests/old"), 404, "MANIFEST_UNKNOWN")
        assert _tags(on_b, "rep/untag") == ["new"]
        # deleting the manifest by digest takes its other tags and its cached bytes
        assert on_b.get(f"/v2/rep/untag/manifests/{image.digest}").status_code == 200
        assert on_a.delete(f"/v2/rep/untag/manifests/{image.digest}").status_code == 202
        assert_oci_error(
            on_b.get(f"/v2/rep/untag/manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN"
        )
        assert _tags(on_b, "rep/untag") == []


def test_a_blob_unlinked_through_one_replica_is_gone_from_the_other(
    a: RegdProcess, b: RegdProcess
) -> None:
    with a.client() as on_a, b.client() as on_b:
        digest = push_blob(on_a, "rep/unlink", b"rep-unlink-bytes")
        assert on_b.head(f"/v2/rep/unlink/blobs/{digest}").status_code == 200
        assert on_a.delete(f"/v2/rep/unlink/blobs/{digest}").status_code == 202
        assert on_b.head(f"/v2/rep/unlink/blobs/{digest}").status_code == 404


def test_a_repository_deleted_through_one_replica_is_gone_from_the_other(
    a: RegdProcess, b: RegdProcess
) -> None:
    with a.client() as on_a, b.client() as on_b:
        image = push_image(on_a, "rep/gone", "1.0", seed="rep-gone")
        assert _digest_of_tag(on_b, "rep/gone", "1.0") == image.digest
        assert _tags(on_b, "rep/gone") == ["1.0"]
        layer = digest_of(image.layers[0])
        assert on_b.head(f"/v2/rep/gone/blobs/{layer}").status_code == 200
        assert on_a.delete("/api/v1/repositories/rep/gone").status_code == 204
        assert_oci_error(on_b.get("/v2/rep/gone/tags/list"), 404, "NAME_UNKNOWN")
        assert_oci_error(on_b.get("/v2/rep/gone/manifests/1.0"), 404, "NAME_UNKNOWN")
        assert on_b.get(f"/v2/rep/gone/manifests/{image.digest}").status_code == 404
        assert on_b.head(f"/v2/rep/gone/blobs/{layer}").status_code == 404
        assert "rep/gone" not in _walk(on_b, "/v2/_catalog", "repositories", 100)
        # re-created through a (a new repository): b serves the new one, not the old
        again = push_image(on_a, "rep/gone", "2.0", seed="rep-gone-again")
        assert _tags(on_b, "rep/gone") == ["2.0"]
        assert _digest_of_tag(on_b, "rep/gone", "2.0") == again.digest
        assert on_b.get(f"/v2/rep/gone/manifests/{image.digest}").status_code == 404
        # and b can push to it (its own writes use the new repository too)
        assert push_image(on_b, "rep/gone", "3.0", seed="rep-gone-b").digest
        assert _tags(on_a, "rep/gone") == ["2.0", "3.0"]


def test_the_catalog_follows_repositories_created_and_deleted_through_the_other_replica(
    a: RegdProcess, b: RegdProcess
) -> None:
    def catalog(client: httpx.Client) -> list[str]:
        whole = client.get("/v2/_catalog")
        assert whole.status_code == 200, whole.text
        assert _walk(client, "/v2/_catalog", "repositories", 3) == whole.json()["repositories"]
        return list(whole.json()["repositories"])

    with a.client() as on_a, b.client() as on_b:
        assert "rep/listed" not in catalog(on_b)  # b holds the catalog
        push_blob(on_a, "rep/listed", b"rep-listed")  # created by a push
        assert "rep/listed" in catalog(on_b)
        created = on_a.post("/api/v1/repositories", json={"name": "rep/listed-empty"})
        assert created.status_code == 201, created.text  # created empty, through the API
        assert "rep/listed-empty" in catalog(on_b)
        assert on_a.delete("/api/v1/repositories/rep/listed").status_code == 204
        after = catalog(on_b)
        assert "rep/listed" not in after
        assert "rep/listed-empty" in after
        assert after == sorted(after)
        assert catalog(on_a) == after


def test_a_token_revoked_through_one_replica_is_refused_by_the_other(
    a: RegdProcess, b: RegdProcess
) -> None:
    with a.client() as admin:
        push_image(admin, "rep/private", "1.0", seed="rep-private")
        create_user(admin, "rep-tom", "rep-tom-password")
        assert set_access_rule(admin, "rep/private", "user:rep-tom", ["pull"]).status_code in (
            200,
            201,
        )
    with a.client(("rep-tom", "rep-tom-password")) as tom:
        accessor, token = create_token(tom, "1h")
    with (
        client_as(b, ("docker", token)) as basic_b,  # docker login with a token: cached on b
        bearer_client(b, token) as bearer_b,
        bearer_client(a, token) as bearer_a,
    ):
        for _ in range(2):  # the second one is answered from b's credential cache
            assert basic_b.get("/v2/rep/private/manifests/1.0").status_code == 200
        assert bearer_b.get("/v2/rep/private/manifests/1.0").status_code == 200
        assert bearer_a.delete(f"/api/v1/tokens/{accessor}").status_code == 204
        assert basic_b.get("/v2/rep/private/manifests/1.0").status_code == 401
        assert bearer_b.get("/v2/rep/private/manifests/1.0").status_code == 401
        assert bearer_b.get("/api/v1/tokens").status_code == 401


def test_credentials_and_grants_changed_through_one_replica_hold_on_the_other(
    a: RegdProcess, b: RegdProcess
) -> None:
    with a.client() as admin:
        push_image(admin, "rep/rules", "1.0", seed="rep-rules")
        create_user(admin, "rep-rita", "rep-rita-password")
        assert set_access_rule(admin, "rep/rules", "user:rep-rita", ["pull"]).status_code in (
            200,
            201,
        )
        with client_as(b, ("rep-rita", "rep-rita-password")) as rita_b:
            for _ in range(2):  # the second one is answered from b's caches
                assert rita_b.get("/v2/rep/rules/manifests/1.0").status_code == 200
            removed = admin.delete("/api/v1/repositories/rep/rules/-/access-rules/user:rep-rita")
            assert removed.status_code == 204, removed.text
            assert rita_b.get("/v2/rep/rules/manifests/1.0").status_code == 403
            assert rita_b.get("/v2/").status_code == 200
            changed = admin.patch(
                "/api/v1/users/rep-rita", json={"password": "rep-rita-new-password"}
            )
            assert changed.status_code == 200, changed.text
            assert rita_b.get("/v2/").status_code == 401
        with client_as(b, ("rep-rita", "rep-rita-new-password")) as rita_b:
            assert rita_b.get("/v2/").status_code == 200


def test_remote_registries_and_settings_changed_through_one_replica_hold_on_the_other(
    a: RegdProcess, b: RegdProcess, tmp_path: Path
) -> None:
    """A remote registry added, its ca-cert replaced, and a setting changed through a: b
    answers accordingly on its very next request (and builds a new TLS context)."""
    upstream = start_regd(tmp_path / "upstream")
    right = tls.self_signed(tmp_path / "right", ["127.0.0.1"])
    wrong = tls.self_signed(tmp_path / "wrong", ["127.0.0.1"])
    context = tls.server_context(str(right.cert), str(right.key))
    proxy = FaultyProxy(upstream.url, tls=context).start()
    try:
        with upstream.client() as up:
            image = push_image(up, "team/app", "1.0", seed="rep-remote")
        with a.client() as on_a, b.client() as on_b:
            secret = {"name": "admin", "data": {"username": "admin", "password": ADMIN_PASSWORD}}
            assert on_a.post("/api/v1/strongbox/vaults", json={"name": "rep-up"}).status_code == 201
            created = on_a.post("/api/v1/strongbox/vaults/rep-up/secrets", json=secret)
            assert created.status_code == 201, created.text
            remote = {
                "address": upstream.host,
                "override-address": proxy.url,
                "ca-cert": wrong.ca.read_text(),
                "credentials": [{"repository": "*", "vault": "rep-up", "secret": "admin"}],
            }
            alias = upstream.host.replace(":", "-")
            pull = f"/v2/{alias}/team/app/manifests/1.0"
            # b caches the remotes (none of this one) and the settings...
            assert upstream.host not in [r["address"] for r in on_b.get(_REMOTES).json()]
            assert on_b.get(_SETTINGS).json()["tag-ttl"] == 300
            assert_oci_error(on_b.get(pull), 404, "NAME_UNKNOWN")
            # ...a adds the remote, with a CA that did not sign the upstream's certificate
            added = on_a.post(_REMOTES, json=remote)
            assert added.status_code == 201, added.text
            assert_oci_error(on_b.get(pull), 503, "UNAVAILABLE")  # b tries it: TLS refuses
            # a replaces the ca-cert: b connects with a new TLS context
            remote["ca-cert"] = right.ca.read_text()
            replaced = on_a.put(f"{_REMOTES}/{upstream.host}", json=remote)
            assert replaced.status_code == 200, replaced.text
            assert on_b.get(f"{_REMOTES}/{alias}").json()["ca-cert"] == right.ca.read_text()
            pulled = on_b.get(
                pull, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
            )
            assert pulled.status_code == 200, pulled.text
            assert digest_of(pulled.content) == image.digest
            # a setting changed through a
            changed = on_a.patch(_SETTINGS, json={"tag-ttl": 1234})
            assert changed.status_code == 200, changed.text
            assert on_b.get(_SETTINGS).json()["tag-ttl"] == 1234
            assert on_a.put(_SETTINGS, json={}).status_code == 200  # back to the defaults
            assert on_b.get(_SETTINGS).json()["tag-ttl"] == 300
            # the remote removed through a
            assert on_a.delete(f"{_REMOTES}/{upstream.host}").status_code == 204
            assert upstream.host not in [r["address"] for r in on_b.get(_REMOTES).json()]
    finally:
        proxy.stop()
        assert upstream.stop() == 0, upstream.log


def test_each_replica_logged_no_error(a: RegdProcess, b: RegdProcess) -> None:
    for server in (a, b):
        assert "Traceback" not in server.log, server.log
        assert " 500 " not in server.log
        assert json.dumps(server.log)  # readable


def test_fresh_reads_are_shared_and_never_older_than_the_ask(
    a: RegdProcess, postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    """regd/db/fresh.py, against the database the replicas use: concurrent asks share
    statements, and an ask made after a change committed (here: a tag pushed through a)
    is answered from a statement sent after it — the new generation."""
    from regd.db import connect  # the database layer itself, as regd serve opens it

    with a.client() as admin:
        push_image(admin, "fresh/app", "1.0", seed="fresh-1")

    async def scenario() -> None:
        [(opened,)] = await postgres_cluster.query(postgres_url, "SELECT clock_timestamp()")
        database = connect(postgres_url)
        fresh = database.fresh
        assert fresh is not None
        try:
            rows = await asyncio.gather(*(fresh.ref("fresh/app") for _ in range(50)))
            assert len(set(rows)) == 1
            assert rows[0] is not None
            # Fifty asks: the first sends one, the next (asked a moment later) another, the
            # rest queue for a third while two are in flight (MAX_IN_FLIGHT).
            assert fresh.statements <= 3
            assert await fresh.ref("fresh/none") is None
            # The server closes the connection held for these reads: the next read is sent
            # again on a new one, and the caller never sees the failure.
            killed = await postgres_cluster.query(
                postgres_url,
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "  # waits
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                f"AND backend_start >= '{opened}'",
            )
            assert killed  # the held connection(s): one or two (MAX_IN_FLIGHT)
            assert all(row == (True,) for row in killed)
            assert await fresh.ref("fresh/app") == rows[0]
            before = rows[0][1]
            with a.client() as admin:  # a change committed through replica a...
                push_image(admin, "fresh/app", "2.0", seed="fresh-2")
            after = await fresh.ref("fresh/app")  # ...is seen by the next ask
            assert after is not None
            assert after[1] > before
        finally:
            await database.close()

    asyncio.run(scenario())
