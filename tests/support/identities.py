"""Users, API clients, tokens and grants through the management API, for access tests."""

from __future__ import annotations

import base64
import json
from collections.abc import Generator
from typing import Any

import httpx

from tests.support.server import RegdProcess

PROBLEM_JSON = "application/problem+json"


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request (a JWT or a personal token)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


AuthSpec = tuple[str, str] | BearerAuth | None


def client_as(regd: RegdProcess, auth: AuthSpec, source: str | None = None) -> httpx.Client:
    """An HTTP client for ``regd`` with ``auth`` (Basic pair, Bearer, or anonymous).

    ``source``: the local loopback address to connect from (``127.0.0.2``...), so a
    test can look like another machine to regd's per-address login throttle.
    """
    transport = httpx.HTTPTransport(local_address=source) if source else None
    return httpx.Client(base_url=regd.url, timeout=60, auth=auth, transport=transport)


def bearer_client(regd: RegdProcess, token: str) -> httpx.Client:
    return client_as(regd, BearerAuth(token))


def created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    body = response.json()
    assert isinstance(body, dict)
    return body


def create_user(
    admin: httpx.Client, name: str, password: str, policies: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "password": password}
    if policies:
        body["policies"] = policies
    return created(admin.post("/api/v1/users", json=body))


def create_api_client(client: httpx.Client, **body: Any) -> tuple[str, str]:
    """A new API client made by ``client``'s principal: (id, secret)."""
    found = created(client.post("/api/v1/api-clients", json=body))
    return str(found["id"]), str(found["secret"])


def create_token(
    client: httpx.Client, ttl: str = "1h", policies: list[str] | None = None, name: str = ""
) -> tuple[str, str]:
    """A new personal access token of ``client``'s principal: (accessor, value)."""
    body: dict[str, Any] = {"ttl": ttl, "name": name}
    if policies is not None:
        body["policies"] = policies
    found = created(client.post("/api/v1/tokens", json=body))
    return str(found["id"]), str(found["token"])


def bind_role(admin: httpx.Client, role: str, principal: str, namespace: str) -> None:
    body = {"role": role, "principal": principal, "namespace": namespace}
    created(admin.post("/api/v1/role-bindings", json=body))


def bind_policy(admin: httpx.Client, policy: str, principal: str) -> None:
    created(admin.post(f"/api/v1/policies/{policy}/bindings", json={"principal": principal}))


def set_access_rule(
    client: httpx.Client, repository: str, principal: str, actions: list[str]
) -> httpx.Response:
    return client.post(
        f"/api/v1/repositories/{repository}/-/access-rules",
        json={"principal": principal, "actions": actions},
    )


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a JWT, unverified (the tests verify through regd or the key)."""

    def part(text: str) -> dict[str, Any]:
        decoded = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        assert isinstance(decoded, dict)
        return decoded

    header, claims, _signature = token.split(".")
    return part(header), part(claims)


def granted(token: str) -> dict[str, list[str]]:
    """``{"repository:team/app": ["pull", "push"], "registry:catalog": ["*"]}`` of a JWT."""
    return {
        f"{entry['type']}:{entry['name']}": sorted(entry["actions"])
        for entry in jwt_parts(token)[1]["access"]
    }


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with ``status``."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return dict(body)


def assert_v2_unauthorized(response: httpx.Response, scope: str | None = None) -> str:
    """401 ``UNAUTHORIZED`` with a Bearer challenge at ``/token``; the challenge."""
    assert response.status_code == 401, f"{response.status_code} {response.text}"
    challenge = str(response.headers.get("WWW-Authenticate", ""))
    assert challenge.startswith('Bearer realm="http://'), challenge
    assert '/token",service="regd"' in challenge, challenge
    if scope is not None:
        assert f'scope="{scope}"' in challenge, challenge
    if response.request.method != "HEAD":
        assert [e["code"] for e in response.json()["errors"]] == ["UNAUTHORIZED"]
    return challenge


def assert_v2_denied(response: httpx.Response) -> None:
    """403 ``DENIED``: authenticated, not allowed, and no challenge to try again."""
    assert response.status_code == 403, f"{response.status_code} {response.text}"
    assert "WWW-Authenticate" not in response.headers
    if response.request.method != "HEAD":
        assert [e["code"] for e in response.json()["errors"]] == ["DENIED"]
