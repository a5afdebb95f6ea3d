"""No password, API client secret, token, refresh token, JWT or Strongbox value ever
reaches regd's log, even with the access log on and at DEBUG level, through a full run:
identities made and re-keyed, docker-style logins, Bearer requests, failed logins."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from tests.support.identities import (
    bearer_client,
    bind_role,
    client_as,
    create_api_client,
    create_token,
    create_user,
)
from tests.support.oci import push_image
from tests.support.server import ADMIN_PASSWORD, RegdProcess, start_regd
from tests.support.waiting import wait_until

REPOSITORY = "sl/team/app"
SCOPE = f"repository:{REPOSITORY}:pull,push"


@pytest.fixture
def logged_regd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    server = start_regd(
        tmp_path_factory.mktemp("secrets-not-logged"),
        "--access-log",
        env={"REGD_LOG_LEVEL": "DEBUG"},
    )
    yield server
    server.stop()


class Secrets:
    """Every secret the run handles, to look for in the log afterwards."""

    def __init__(self) -> None:
        self.values: list[str] = [ADMIN_PASSWORD]

    def add(self, value: str) -> str:
        assert len(value) >= 8, "too short to look for"
        self.values.append(value)
        return value

    def basic(self, name: str, secret: str) -> tuple[str, str]:
        """A Basic pair; its base64 form (what crosses the wire) is a secret too."""
        self.add(base64.b64encode(f"{name}:{secret}".encode()).decode())
        return name, secret


def _docker_login(regd: RegdProcess, auth: tuple[str, str], offline: bool) -> dict[str, str]:
    """What docker does: GET /v2/, get challenged, GET /token with Basic."""
    with client_as(regd, None) as anonymous:
        assert anonymous.get("/v2/").status_code == 401
    params = {"service": "regd", "scope": SCOPE, "client_id": "docker"}
    if offline:
        params["offline_token"] = "true"
    with client_as(regd, auth) as client:
        response = client.get("/token", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def test_no_secret_reaches_the_log(logged_regd: RegdProcess) -> None:
    regd = logged_regd
    secrets = Secrets()
    secrets.basic("admin", ADMIN_PASSWORD)
    with regd.client() as admin:
        first = secrets.add("first-Password-of-sl-user")
        create_user(admin, "sl-user", first)
        bind_role(admin, "registry-editor", "user:sl-user", "sl/team")
        push_image(admin, REPOSITORY, "1.0", seed="secrets")
        with client_as(regd, secrets.basic("sl-user", first)) as user:
            password = secrets.add("second-Password-sl")
            changed = user.patch("/api/v1/users/sl-user", json={"password": password})
            assert changed.status_code == 200
        short = admin.post("/api/v1/users", json={"name": "sl-short", "password": "Shrt9xQ"})
        assert short.status_code == 400
        assert "Shrt9xQ" not in short.text

        grants = [{"capabilities": ["pull"], "repositories": ["sl/*"]}]
        robot, first_secret = create_api_client(admin, description="sl robot", grants=grants)
        secrets.add(first_secret)
        reset = admin.post(f"/api/v1/api-clients/{robot}/reset-secret")
        robot_secret = secrets.add(reset.json()["secret"])

        vault = admin.post("/api/v1/strongbox/vaults", json={"name": "sl-vault"})
        assert vault.status_code == 201
        stored = admin.post(
            "/api/v1/strongbox/vaults/sl-vault/secrets",
            json={
                "name": "upstream",
                "data": {"username": "up", "password": secrets.add("Strongbox-Value-42x")},
            },
        )
        assert stored.status_code == 201, stored.text
        rendered = admin.get(
            "/api/v1/strongbox/vaults/sl-vault/secrets/upstream/docker-config",
            params={"server": "upstream.example"},
        )
        assert rendered.status_code == 200

    with client_as(regd, secrets.basic("sl-user", password)) as user:
        _accessor, pat = create_token(user, "1h", name="laptop")
        secrets.add(pat)
        session = user.post("/api/v1/token", json={}).json()["token"]
        secrets.add(session)
        supctl = user.post("/api/v1/strongbox/token/create-token", json={"ttl": "4h"})
        secrets.add(supctl.json()["token"])

    # docker login and pull/push: by password, API client secret and token
    by_password = _docker_login(regd, secrets.basic("sl-user", password), offline=True)
    by_robot = _docker_login(regd, secrets.basic(robot, robot_secret), offline=False)
    by_token = _docker_login(regd, secrets.basic("oauth2accesstoken", pat), offline=True)
    for body in (by_password, by_robot, by_token):
        secrets.add(body["token"])
        if "refresh_token" in body:
            secrets.add(body["refresh_token"])
    with client_as(regd, None) as anonymous:
        form = {"service": "regd", "client_id": "docker", "scope": SCOPE}
        oauth = anonymous.post(
            "/token",
            data={
                **form,
                "grant_type": "password",
                "username": "sl-user",
                "password": password,
                "access_type": "offline",
            },
        ).json()
        refreshed = anonymous.post(
            "/token",
            data={**form, "grant_type": "refresh_token", "refresh_token": oauth["refresh_token"]},
        ).json()
    for value in (oauth["access_token"], oauth["refresh_token"], refreshed["access_token"]):
        secrets.add(value)

    with bearer_client(regd, by_password["token"]) as client:
        assert client.get(f"/v2/{REPOSITORY}/manifests/1.0").status_code == 200
        assert client.post(f"/v2/{REPOSITORY}/blobs/uploads/").status_code == 202
    with bearer_client(regd, pat) as client:
        assert client.get(f"/v2/{REPOSITORY}/tags/list").status_code == 200
        assert client.get("/api/v1/tokens").status_code == 200
    with bearer_client(regd, session) as client:
        assert client.get("/api/v1/users/sl-user").status_code == 200

    # failed logins: wrong passwords (enough to be throttled and logged), a wrong robot
    # secret, a token that is no token, a token sent without a scheme
    for n in range(6):
        wrong = secrets.add(f"wrong-Password-{n}-zz")
        with client_as(regd, secrets.basic("sl-user", wrong)) as client:
            assert (
                client.get("/token", params={"service": "regd", "scope": SCOPE}).status_code == 401
            )
    with client_as(regd, secrets.basic(robot, secrets.add("wrong-Robot-secret-1"))) as client:
        assert client.get("/v2/").status_code == 401
    with client_as(regd, None) as anonymous:
        refused = anonymous.post(
            "/token",
            data={
                "grant_type": "password",
                "username": "sl-user",
                "password": secrets.add("wrong-Form-password"),
            },
        )
        assert refused.status_code == 401
        forged = secrets.add(pat[:-6] + "abcdef")
        assert (
            anonymous.get("/v2/", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        )
        # no scheme at all: the error must not echo the token back
        bare = anonymous.get("/v2/", headers={"Authorization": pat})
        assert bare.status_code == 401
        secret_part = pat.split("_", 2)[2]
        assert secret_part.lower() not in bare.text.lower()

    assert regd.stop() == 0
    # the log is read from a pipe: wait for regd's last words to arrive
    wait_until(lambda: "shutting down" in regd.log, 10, "the log is read to its end")
    log = regd.log
    # the run was logged: requests, and the failed logins (by name, from where)
    assert '"GET /token?service=regd&scope=' in log
    assert '"POST /token HTTP/1.1" 200' in log
    assert "repeated failed logins: user 'sl-user' from 127.0.0.1" in log
    leaked = [value for value in secrets.values if value in log]
    assert leaked == [], "secrets in the log"
    # nor in any other form: the secret half of each token, lower-cased
    halves = [
        value.split("_", 2)[2].lower() for value in secrets.values if value.startswith("regd_")
    ]
    assert [half for half in halves if half in log.lower()] == []
