"""``/api/v1/image-registry/remote-registries`` and ``/api/v1/image-registry/settings`` over
real HTTP: CRUD, credentials checked against Strongbox at write time, settings merge / replace
/ validation, and who may write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import RegdProcess, start_regd

pytestmark = pytest.mark.xdist_group("remotes-api")

REMOTES = "/api/v1/image-registry/remote-registries"
SETTINGS = "/api/v1/image-registry/settings"
DEFAULTS = {"default-remote-registry": None, "tag-ttl": 300, "cache-size-cap": None}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    regd = start_regd(tmp_path_factory.mktemp("remotes-api"))
    with regd.client() as admin:
        assert admin.post("/api/v1/strongbox/vaults", json={"name": "upstreams"}).status_code == 201
        secret = admin.post(
            "/api/v1/strongbox/vaults/upstreams/secrets",
            json={"name": "robot", "data": {"username": "robot", "password": "robot-pass"}},
        )
        assert secret.status_code == 201, secret.text
    yield regd
    assert regd.stop() == 0, regd.log


@pytest.fixture
def admin(server: RegdProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def _problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    detail: str = response.json()["detail"]
    return detail


def _user(admin: httpx.Client, name: str, *policies: str) -> tuple[str, str]:
    password = f"{name}-password-123"
    created = admin.post(
        "/api/v1/users", json={"name": name, "password": password, "policies": list(policies)}
    )
    assert created.status_code == 201, created.text
    return name, password


CREDENTIALS = [{"repository": "*", "vault": "upstreams", "secret": "robot"}]


def test_remote_registry_crud(admin: httpx.Client) -> None:
    created = admin.post(
        REMOTES,
        json={
            "address": "crud.example.com:6000",
            "override-address": "http://127.0.0.1:6000",
            "credentials": CREDENTIALS,
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["address"] == "crud.example.com:6000"
    assert body["name"] == "crud.example.com-6000"  # the alias defaults to the address
    assert body["override-address"] == "http://127.0.0.1:6000"
    assert body["credentials"] == CREDENTIALS
    assert body["created-at"]

    # Shown by address and by alias; listed.
    by_address = admin.get(f"{REMOTES}/crud.example.com:6000")
    assert by_address.status_code == 200, by_address.text
    assert by_address.json() == body
    assert admin.get(f"{REMOTES}/crud.example.com-6000").json() == body
    assert body in admin.get(REMOTES).json()

    # Creating it again is a conflict; an alias already taken too.
    assert "exists" in _problem(admin.post(REMOTES, json={"address": "crud.example.com:6000"}), 409)
    clash = admin.post(REMOTES, json={"address": "other.example.com", "name": body["name"]})
    assert "taken" in _problem(clash, 409)

    # PUT replaces the whole entry (no override-address, no credentials any more).
    replaced = admin.put(f"{REMOTES}/crud.example.com:6000", json={"name": "crud"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["name"] == "crud"
    assert "override-address" not in replaced.json()
    assert replaced.json()["credentials"] == []
    assert admin.get(f"{REMOTES}/crud").json()["address"] == "crud.example.com:6000"
    assert admin.get(f"{REMOTES}/crud.example.com-6000").status_code == 404
    mismatch = admin.put(f"{REMOTES}/crud.example.com:6000", json={"address": "else.example.com"})
    assert "differs" in _problem(mismatch, 400)

    # PUT of an unknown address creates it (supctl replace upserts).
    upserted = admin.put(f"{REMOTES}/upsert.example.com", json={"credentials": CREDENTIALS})
    assert upserted.status_code == 200, upserted.text
    assert upserted.json()["name"] == "upsert.example.com"

    for address in ("crud.example.com:6000", "upsert.example.com"):
        assert admin.delete(f"{REMOTES}/{address}").status_code == 204
        _problem(admin.get(f"{REMOTES}/{address}"), 404)
        _problem(admin.delete(f"{REMOTES}/{address}"), 404)
    assert all(r["address"] != "crud.example.com:6000" for r in admin.get(REMOTES).json())


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "address"),
        ({"address": "not a host"}, "address"),
        ({"address": "bad.example.com", "name": "Has Spaces"}, "name"),
        ({"address": "bad.example.com", "name": "two/parts"}, "name"),
        ({"address": "bad.example.com", "override-address": "ftp://x"}, "override-address"),
        ({"address": "bad.example.com", "ca-cert": "not a pem"}, "ca-cert"),
        ({"address": "bad.example.com", "credentials": {"vault": "upstreams"}}, "credentials"),
        ({"address": "bad.example.com", "credentials": [{"vault": "upstreams"}]}, "secret"),
        (
            {
                "address": "bad.example.com",
                "credentials": [{"repository": 7, "vault": "upstreams", "secret": "robot"}],
            },
            "repository",
        ),
    ],
)
def test_invalid_remote_is_400(admin: httpx.Client, body: dict[str, Any], words: str) -> None:
    assert words in _problem(admin.post(REMOTES, json=body), 400)
    assert all(r["address"] != "bad.example.com" for r in admin.get(REMOTES).json())


@pytest.mark.parametrize(
    ("vault", "secret"), [("no-such-vault", "robot"), ("upstreams", "no-such-secret")]
)
def test_credentials_naming_a_missing_secret_are_refused_at_write_time(
    admin: httpx.Client, vault: str, secret: str
) -> None:
    entry = [{"repository": "*", "vault": vault, "secret": secret}]
    detail = _problem(
        admin.post(REMOTES, json={"address": "missing.example.com", "credentials": entry}), 400
    )
    assert "missing secret" in detail
    assert secret in detail or vault in detail
    # PUT (create or replace) checks the same.
    _problem(admin.put(f"{REMOTES}/missing.example.com", json={"credentials": entry}), 400)
    _problem(admin.get(f"{REMOTES}/missing.example.com"), 404)


def test_settings_merge_replace_and_validation(admin: httpx.Client) -> None:
    assert admin.get(SETTINGS).json() == DEFAULTS
    try:
        merged = admin.patch(SETTINGS, json={"tag-ttl": 60})
        assert merged.status_code == 200, merged.text
        assert merged.json() == {**DEFAULTS, "tag-ttl": 60}
        # POST merges too, keeping what was set before.
        posted = admin.post(SETTINGS, json={"default-remote-registry": "docker.io"})
        assert posted.json() == {**DEFAULTS, "tag-ttl": 60, "default-remote-registry": "docker.io"}
        assert admin.get(SETTINGS).json() == posted.json()
        # PUT replaces: keys not given go back to their defaults.
        replaced = admin.put(SETTINGS, json={"cache-size-cap": 1 << 30})
        assert replaced.status_code == 200, replaced.text
        assert replaced.json() == {**DEFAULTS, "cache-size-cap": 1 << 30}
        cleared = admin.patch(SETTINGS, json={"cache-size-cap": None})
        assert cleared.json() == DEFAULTS

        before = admin.get(SETTINGS).json()
        for invalid, words in (
            ({"no-such-setting": 1}, "unknown"),
            ({"tag-ttl": -1}, "tag-ttl"),
            ({"tag-ttl": "60"}, "tag-ttl"),
            ({"tag-ttl": True}, "tag-ttl"),
            ({"tag-ttl": 1.5}, "tag-ttl"),
            ({"tag-ttl": None}, "tag-ttl"),
            ({"cache-size-cap": -5}, "cache-size-cap"),
            ({"default-remote-registry": "not a registry"}, "default-remote-registry"),
            ({"default-remote-registry": 5}, "default-remote-registry"),
        ):
            for method in ("PATCH", "PUT", "POST"):
                response = admin.request(method, SETTINGS, json=invalid)
                assert words in _problem(response, 400), (method, invalid)
        _problem(admin.patch(SETTINGS, content=b"[1, 2]"), 400)
        # Nothing invalid was stored.
        assert admin.get(SETTINGS).json() == before
    finally:
        assert admin.put(SETTINGS, json={}).json() == DEFAULTS


def test_only_registry_admins_read_or_write(server: RegdProcess, admin: httpx.Client) -> None:
    assert admin.post(REMOTES, json={"address": "guarded.example.com"}).status_code == 201
    puller = _user(admin, "remotes-puller", "registry-pull")
    pusher = _user(admin, "remotes-pusher", "registry-push")
    vault_admin = _user(admin, "remotes-vaults", "strongbox-write", "strongbox-read")
    try:
        for account in (puller, pusher, vault_admin):
            with server.client(auth=account) as http:
                # Deny by default: addresses and credential locations are for admins only.
                reads = [
                    http.get(REMOTES),
                    http.get(f"{REMOTES}/guarded.example.com"),
                    http.get(SETTINGS),
                    http.get("/api/v1/image-registry/cache"),
                ]
                for response in reads:
                    _problem(response, 403)
                    assert "guarded" not in response.text
                writes = [
                    http.post(REMOTES, json={"address": "sneaky.example.com"}),
                    http.put(f"{REMOTES}/guarded.example.com", json={"name": "mine"}),
                    http.put(f"{REMOTES}/sneaky.example.com", json={}),
                    http.delete(f"{REMOTES}/guarded.example.com"),
                    http.patch(SETTINGS, json={"tag-ttl": 1}),
                    http.post(SETTINGS, json={"tag-ttl": 1}),
                    http.put(SETTINGS, json={}),
                ]
                for response in writes:
                    _problem(response, 403)
        with server.client(auth=None) as anonymous:
            assert anonymous.get(REMOTES).status_code == 401
            assert anonymous.get(SETTINGS).status_code == 401
            assert anonymous.post(REMOTES, json={"address": "anon.example.com"}).status_code == 401
            assert anonymous.patch(SETTINGS, json={"tag-ttl": 1}).status_code == 401
        # Nothing changed.
        shown = admin.get(f"{REMOTES}/guarded.example.com").json()
        assert shown["name"] == "guarded.example.com"
        assert admin.get(f"{REMOTES}/sneaky.example.com").status_code == 404
        assert admin.get(SETTINGS).json() == DEFAULTS
    finally:
        admin.delete(f"{REMOTES}/guarded.example.com")


def test_remotes_are_in_the_openapi_document(admin: httpx.Client) -> None:
    paths = admin.get("/api/v1/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths[REMOTES])
    assert {"get", "put", "delete"} <= set(paths[REMOTES + "/{address}"])
    assert {"get", "post", "patch", "put"} <= set(paths[SETTINGS])
