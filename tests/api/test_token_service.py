"""``/token``, Docker's registry token service: credentials in, ES256 JWT out, granting
the intersection of what was asked and what is allowed; and how /v2/ takes the JWT."""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from regd.strongbox.crypto import MasterKeys, Sealed
from tests.support.identities import (
    assert_v2_denied,
    assert_v2_unauthorized,
    bearer_client,
    bind_role,
    client_as,
    create_api_client,
    create_token,
    create_user,
    granted,
    jwt_parts,
    set_access_rule,
)
from tests.support.oci import push_image
from tests.support.server import ADMIN_PASSWORD, RegdProcess, start_regd
from tests.support.waiting import wait_until

pytestmark = pytest.mark.xdist_group("token-service")

TEAM = "tk/team/app"
TEAM_TOO = "tk/team/web"
OTHER = "tk/other/app"
OPEN = "tk/open/app"
EDITOR_PASSWORD = "tk-editor-password"
VIEWER_PASSWORD = "tk-viewer-password"


@dataclass
class Service:
    regd: RegdProcess
    admin: httpx.Client
    robot: tuple[str, str]
    #: The editor's personal tokens: unlimited, and limited to registry-pull.
    editor_token: str
    editor_pull_token: str


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    regd = start_regd(tmp_path_factory.mktemp("token-service"))
    with regd.client() as admin:
        create_user(admin, "tk-editor", EDITOR_PASSWORD)
        create_user(admin, "tk-viewer", VIEWER_PASSWORD)
        bind_role(admin, "registry-editor", "user:tk-editor", "tk/team")
        bind_role(admin, "registry-viewer", "user:tk-viewer", "tk/team")
        for name in (TEAM, TEAM_TOO, OTHER, OPEN):
            push_image(admin, name, "1.0", seed=name)
        assert set_access_rule(admin, OPEN, "public", ["pull"]).status_code == 201
        grants = [{"capabilities": ["pull"], "repositories": ["tk/team/*"]}]
        robot = create_api_client(admin, description="tk robot", grants=grants)
        with regd.client(("tk-editor", EDITOR_PASSWORD)) as editor:
            _id, editor_token = create_token(editor, "1h", name="laptop")
            _id, editor_pull_token = create_token(editor, "1h", ["registry-pull"], "ci")
        yield Service(regd, admin, robot, editor_token, editor_pull_token)
    assert regd.stop() == 0, regd.log


def _token(
    service: Service, auth: tuple[str, str] | None, *scopes: str, **params: str
) -> httpx.Response:
    """GET /token the way docker does: Basic credentials, one ``scope`` per resource."""
    query = httpx.QueryParams({"service": "regd", "scope": list(scopes), **params})
    with client_as(service.regd, auth) as client:
        return client.get("/token", params=query)


def _jwt(service: Service, auth: tuple[str, str] | None, *scopes: str) -> str:
    response = _token(service, auth, *scopes)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def _verified(service: Service, token: str) -> dict[str, Any]:
    """The claims, verified with regd's signing key (sealed in its database, opened with
    the master key file of its data directory)."""
    kid = jwt.get_unverified_header(token)["kid"]
    data_dir = Path(service.regd.data_dir)
    with sqlite3.connect(data_dir / "regd.db") as conn:
        ciphertext, wrapped, master_id = conn.execute(
            "SELECT ciphertext, wrapped_key, master_key_id FROM signing_keys WHERE kid = ?",
            (kid,),
        ).fetchone()
    master = MasterKeys(data_dir / "keys")
    master.load()
    pem = master.open(Sealed(ciphertext, wrapped, master_id), f"regd-signing-key:{kid}".encode())
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    claims: dict[str, Any] = jwt.decode(
        token, key.public_key(), algorithms=["ES256"], audience="regd"
    )
    return claims


def _post_token(service: Service, form: dict[str, str]) -> httpx.Response:
    with client_as(service.regd, None) as client:
        return client.post("/token", data={"service": "regd", "client_id": "tests", **form})


# -- GET /token ----------------------------------------------------------------------------


def test_a_password_gets_the_intersection_of_what_was_asked_and_what_is_allowed(
    service: Service,
) -> None:
    before = time.time()
    response = _token(
        service,
        ("tk-editor", EDITOR_PASSWORD),
        f"repository:{TEAM}:pull,push,delete",
        f"repository:{OTHER}:pull",
        "registry:catalog:*",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    issued = datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00")).timestamp()
    assert body["issued_at"].endswith("Z")
    assert before - 2 <= issued <= time.time() + 1
    assert "refresh_token" not in body
    # asking too much is not an error: delete and the other repository are left out
    assert granted(body["token"]) == {
        f"repository:{TEAM}": ["pull", "push"],
        "registry:catalog": ["*"],
    }
    header, _claims = jwt_parts(body["token"])
    assert header["alg"] == "ES256"
    claims = _verified(service, body["token"])
    assert claims["sub"] == "user:tk-editor"
    assert claims["iss"] == claims["aud"] == "regd"
    assert claims["exp"] - claims["iat"] == 300


def test_an_api_client_secret_gets_a_token(service: Service) -> None:
    token = _jwt(service, service.robot, f"repository:{TEAM}:pull,push", f"repository:{OTHER}:pull")
    assert granted(token) == {f"repository:{TEAM}": ["pull"]}
    assert _verified(service, token)["sub"] == f"api-client:{service.robot[0]}"


def test_a_personal_token_gets_a_token_under_any_user_name(service: Service) -> None:
    scope = f"repository:{TEAM}:pull,push"
    unlimited = _jwt(service, ("anything", service.editor_token), scope)
    assert granted(unlimited) == {f"repository:{TEAM}": ["pull", "push"]}
    assert _verified(service, unlimited)["sub"] == "user:tk-editor"
    # limited to registry-pull: its owner may push, the token may not
    limited = _jwt(service, ("oauth2accesstoken", service.editor_pull_token), scope)
    assert granted(limited) == {f"repository:{TEAM}": ["pull"]}
    assert _verified(service, limited)["pol"] == ["registry-pull"]


def test_anonymous_gets_a_token_for_public_repositories_only(service: Service) -> None:
    token = _jwt(
        service,
        None,
        f"repository:{OPEN}:pull,push",
        f"repository:{TEAM}:pull",
        "registry:catalog:*",
    )
    assert granted(token) == {f"repository:{OPEN}": ["pull"]}
    assert _verified(service, token)["sub"] == "anonymous"


def test_wrong_credentials_and_a_foreign_service_are_refused(service: Service) -> None:
    wrong = _token(service, ("tk-viewer", "not-the-password"), f"repository:{TEAM}:pull")
    assert wrong.status_code == 401
    assert [e["code"] for e in wrong.json()["errors"]] == ["UNAUTHORIZED"]
    assert "not-the-password" not in wrong.text
    with client_as(service.regd, ("tk-viewer", VIEWER_PASSWORD)) as viewer:
        foreign = viewer.get("/token", params={"service": "elsewhere", "scope": "x:y:pull"})
    assert foreign.status_code == 400


# -- refresh tokens and the OAuth2 form (POST) ---------------------------------------------


def test_offline_token_gives_a_refresh_token_for_the_refresh_grant(service: Service) -> None:
    body = _token(
        service,
        ("tk-editor", EDITOR_PASSWORD),
        f"repository:{TEAM}:pull",
        offline_token="true",
        client_id="docker",
    ).json()
    refresh = body["refresh_token"]
    assert refresh != body["token"]
    refreshed = _post_token(
        service,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "scope": f"repository:{TEAM}:pull,push repository:{OTHER}:pull",
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    answer = refreshed.json()
    assert answer["expires_in"] == 300
    assert answer["issued_at"].endswith("Z")
    assert granted(answer["access_token"]) == {f"repository:{TEAM}": ["pull", "push"]}
    assert _verified(service, answer["access_token"])["sub"] == "user:tk-editor"
    # a refresh token is for /token only: no credential on /v2/ or /api/v1/
    with client_as(service.regd, ("tk-editor", refresh)) as basic:
        assert_v2_unauthorized(basic.get("/v2/"))
    with bearer_client(service.regd, refresh) as bearer:
        assert_v2_unauthorized(bearer.get("/v2/"))
        assert bearer.get("/api/v1/tokens").status_code == 401
    bogus = _post_token(service, {"grant_type": "refresh_token", "refresh_token": "nonsense"})
    assert bogus.status_code == 401
    assert bogus.json()["error"] == "invalid_grant"


def test_a_refresh_token_from_a_personal_token_dies_with_it(service: Service) -> None:
    with client_as(service.regd, ("tk-editor", EDITOR_PASSWORD)) as editor:
        accessor, value = create_token(editor, "1h", name="short-lived")
        refresh = _token(
            service, ("docker", value), f"repository:{TEAM}:pull", offline_token="true"
        ).json()["refresh_token"]
        form = {"grant_type": "refresh_token", "refresh_token": refresh}
        assert _post_token(service, form).status_code == 200
        assert editor.delete(f"/api/v1/tokens/{accessor}").status_code == 204
    assert _post_token(service, form).status_code == 401


def test_the_password_grant(service: Service) -> None:
    form = {
        "grant_type": "password",
        "username": "tk-viewer",
        "password": VIEWER_PASSWORD,
        "scope": f"repository:{TEAM}:pull,push",
        "access_type": "offline",
    }
    answer = _post_token(service, form)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert granted(body["access_token"]) == {f"repository:{TEAM}": ["pull"]}
    assert body["scope"] == f"repository:{TEAM}:pull,push"
    assert body["refresh_token"].startswith("regd_")
    # an API client and a personal token are "passwords" too
    robot = {**form, "username": service.robot[0], "password": service.robot[1]}
    assert granted(_post_token(service, robot).json()["access_token"]) == {
        f"repository:{TEAM}": ["pull"]
    }
    token = {**form, "username": "x", "password": service.editor_token, "access_type": ""}
    by_token = _post_token(service, token).json()
    assert granted(by_token["access_token"]) == {f"repository:{TEAM}": ["pull", "push"]}
    assert "refresh_token" not in by_token

    wrong = _post_token(service, {**form, "password": "wrong-password"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_grant"
    assert "wrong-password" not in wrong.text
    unknown = _post_token(service, {**form, "grant_type": "client_credentials"})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unsupported_grant_type"


# -- the JWT on /v2/ -----------------------------------------------------------------------


def test_the_jwt_opens_v2_within_its_scope(service: Service) -> None:
    pull = _jwt(service, ("tk-editor", EDITOR_PASSWORD), f"repository:{TEAM}:pull")
    with bearer_client(service.regd, pull) as editor:
        assert editor.get(f"/v2/{TEAM}/manifests/1.0").status_code == 200
        assert editor.get("/v2/").status_code == 200
        # the editor may push, its token does not say so: ask for a better token
        refused = editor.post(f"/v2/{TEAM}/blobs/uploads/")
        challenge = assert_v2_unauthorized(refused, f"repository:{TEAM}:pull,push")
        assert 'error="insufficient_scope"' in challenge
        # a repository the token does not name, which the editor may pull: same
        other = assert_v2_unauthorized(editor.get(f"/v2/{TEAM_TOO}/tags/list"))
        assert 'error="insufficient_scope"' in other
        # a repository the editor may not pull whatever the token: denied
        assert_v2_denied(editor.get(f"/v2/{OTHER}/tags/list"))
    push = _jwt(service, ("tk-editor", EDITOR_PASSWORD), f"repository:{TEAM}:pull,push")
    with bearer_client(service.regd, push) as editor:
        assert editor.post(f"/v2/{TEAM}/blobs/uploads/").status_code == 202
        assert_v2_denied(editor.delete(f"/v2/{TEAM}/manifests/1.0"))

    viewer_token = _jwt(service, ("tk-viewer", VIEWER_PASSWORD), f"repository:{TEAM}:pull,push")
    assert granted(viewer_token) == {f"repository:{TEAM}": ["pull"]}
    with bearer_client(service.regd, viewer_token) as viewer:
        assert viewer.get(f"/v2/{TEAM}/manifests/1.0").status_code == 200
        assert_v2_denied(viewer.post(f"/v2/{TEAM}/blobs/uploads/"))

    anonymous_token = _jwt(service, None, f"repository:{OPEN}:pull")
    with bearer_client(service.regd, anonymous_token) as anonymous:
        assert anonymous.get(f"/v2/{OPEN}/manifests/1.0").status_code == 200
        assert_v2_unauthorized(anonymous.get(f"/v2/{TEAM}/manifests/1.0"))


def test_a_registry_jwt_does_not_open_the_management_api(service: Service) -> None:
    """Scoped to pulling one repository, it must not act with all its subject's rights
    (a token minted without scopes, as regctl gets for docker's identity token, may)."""
    token = _jwt(service, ("admin", ADMIN_PASSWORD), f"repository:{TEAM}:pull")
    with bearer_client(service.regd, token) as client:
        assert client.get(f"/v2/{TEAM}/manifests/1.0").status_code == 200
        for method, path in (("GET", "/api/v1/users"), ("POST", "/api/v1/users")):
            refused = client.request(method, path, json={"name": "sneaky"})
            assert refused.status_code == 401, refused.text
            assert refused.headers["Content-Type"].startswith("application/problem+json")
            assert "for /v2/ only" in refused.json()["detail"]
    with service.regd.client() as admin:
        assert admin.get("/api/v1/users/sneaky").status_code == 404
    with bearer_client(service.regd, _jwt(service, ("admin", ADMIN_PASSWORD))) as client:
        assert client.get("/api/v1/users").status_code == 200


def test_a_forged_or_tampered_jwt_is_refused(service: Service) -> None:
    token = _jwt(service, ("tk-viewer", VIEWER_PASSWORD), f"repository:{TEAM}:pull")
    header, payload, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    claims = _verified(service, token)
    forged = jwt.encode(
        {**claims, "sub": "user:admin", "adm": True},
        "not-the-signing-key-of-this-regd",
        algorithm="HS256",
    )
    for bad in (f"{header}.{payload}.{flipped}", forged, "not.a.jwt"):
        with bearer_client(service.regd, bad) as client:
            assert_v2_unauthorized(client.get(f"/v2/{TEAM}/manifests/1.0"))


def test_the_catalog_lists_only_what_the_caller_may_pull(service: Service) -> None:
    viewer = _jwt(service, ("tk-viewer", VIEWER_PASSWORD), "registry:catalog:*")
    assert granted(viewer) == {"registry:catalog": ["*"]}
    with bearer_client(service.regd, viewer) as client:
        listed = client.get("/v2/_catalog").json()["repositories"]
    assert listed == [OPEN, TEAM, TEAM_TOO]
    with bearer_client(service.regd, _jwt(service, service.robot, "registry:catalog:*")) as client:
        assert client.get("/v2/_catalog").json()["repositories"] == [OPEN, TEAM, TEAM_TOO]
    every = _jwt(service, ("admin", ADMIN_PASSWORD), "registry:catalog:*")
    with bearer_client(service.regd, every) as client:
        assert client.get("/v2/_catalog").json()["repositories"] == [OPEN, OTHER, TEAM, TEAM_TOO]
    with client_as(service.regd, None) as anonymous:
        assert_v2_unauthorized(anonymous.get("/v2/_catalog"), "registry:catalog:*")
    # a token for a repository is no token for the catalog
    repository_only = _jwt(service, ("tk-viewer", VIEWER_PASSWORD), f"repository:{TEAM}:pull")
    with bearer_client(service.regd, repository_only) as client:
        refused = client.get("/v2/_catalog")
    challenge = assert_v2_unauthorized(refused, "registry:catalog:*")
    assert 'error="insufficient_scope"' in challenge


# -- brute force ---------------------------------------------------------------------------


def test_failed_logins_are_throttled_per_user_and_logged_without_the_secret(
    fresh_regd: RegdProcess,
) -> None:
    """After 5 failures for one name, each further attempt waits 0.25 s, doubling."""
    with fresh_regd.client() as admin:
        robot_id, secret = create_api_client(admin, description="brute-forced")
    wrong = [f"wrong-secret-{n}-x7q" for n in range(8)]

    def attempt(guess: str, source: str = "127.0.0.1") -> float:
        with client_as(fresh_regd, (robot_id, guess), source) as client:
            started = time.monotonic()
            response = client.get("/token", params={"service": "regd"})
            took = time.monotonic() - started
        assert response.status_code == 401
        return took

    free = [attempt(guess) for guess in wrong[:5]]
    sixth, seventh = attempt(wrong[5]), attempt(wrong[6])
    # from another address: the count is per user name too
    eighth = attempt(wrong[7], source="127.0.0.2")
    assert sixth >= 0.24
    assert seventh >= 0.49
    assert eighth >= 0.99
    assert eighth >= statistics.median(free) + 0.5, (free, sixth, seventh, eighth)

    warning = f"repeated failed logins: user '{robot_id}'"
    wait_until(lambda: warning in fresh_regd.log, 10, "the failed logins are logged")
    log = fresh_regd.log
    for guess in wrong:
        assert guess not in log
    assert secret not in log
