"""Setting up who may do what, through regd's management API (``/api/v1/``), as ``admin``.

Every helper fails the test, showing regd's problem+json answer, when regd refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.server import ADMIN_PASSWORD, RegdProcess


@dataclass(frozen=True)
class Account:
    """A name and the secret that goes with it: a user's password, an API client's secret, or
    (with any name) a personal access token."""

    name: str
    secret: str

    @property
    def creds(self) -> str:
        """``NAME:SECRET``, as skopeo's and podman's ``--creds`` want it."""
        return f"{self.name}:{self.secret}"

    @property
    def auth(self) -> tuple[str, str]:
        """For httpx's ``auth=``."""
        return (self.name, self.secret)


#: Every test regd's ``admin`` (REGD_ADMIN_PASSWORD).
ADMIN = Account("admin", ADMIN_PASSWORD)


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, (
        f"{response.request.method} {response.request.url} -> {response.status_code}\n"
        f"{response.text}"
    )
    body: dict[str, Any] = response.json()
    return body


def _post(
    regd: RegdProcess, path: str, body: dict[str, Any], as_: Account | None = None
) -> dict[str, Any]:
    with regd.client((as_ or ADMIN).auth) as http:
        return _created(http.post(path, json=body))


def create_user(regd: RegdProcess, name: str, *policies: str) -> Account:
    """A user holding ``policies`` (registry-pull, registry-push, ...); its password."""
    password = f"{name}-password-for-e2e"
    body = _post(
        regd, "/api/v1/users", {"name": name, "password": password, "policies": list(policies)}
    )
    assert body["policies"] == sorted(policies), body
    return Account(name, password)


def create_api_client(
    regd: RegdProcess, capabilities: list[str], repositories: list[str]
) -> Account:
    """An API client (``cli-xxxxx``) granted ``capabilities`` over ``repositories``."""
    body = _post(
        regd,
        "/api/v1/api-clients",
        {
            "description": "e2e robot",
            "grants": [{"capabilities": capabilities, "repositories": repositories}],
        },
    )
    client_id, secret = body["id"], body["secret"]
    assert isinstance(client_id, str)
    assert client_id.startswith("cli-"), body
    assert isinstance(secret, str)
    return Account(client_id, secret)


@dataclass(frozen=True)
class PersonalToken:
    id: str
    value: str


def create_token(
    regd: RegdProcess, owner: Account, *policies: str, ttl: str = "1h"
) -> PersonalToken:
    """A personal access token of ``owner`` (created as ``owner``), limited to ``policies``."""
    body = _post(
        regd,
        "/api/v1/tokens",
        {"name": "e2e", "ttl": ttl, "policies": list(policies)},
        as_=owner,
    )
    assert body["principal"] == f"user:{owner.name}", body
    assert body["token"].startswith("regd_"), body
    return PersonalToken(body["id"], body["token"])


def revoke_token(regd: RegdProcess, owner: Account, token_id: str) -> None:
    """``DELETE /api/v1/tokens/{id}`` as ``owner``: ``token_id`` is the token's accessor."""
    with regd.client(owner.auth) as http:
        response = http.delete(f"/api/v1/tokens/{token_id}")
    assert response.status_code == 204, response.text


def add_access_rule(regd: RegdProcess, repository: str, principal: str, *actions: str) -> None:
    """Let ``principal`` (``public``, ``user:NAME``, ``api-client:ID``) do ``actions``."""
    _post(
        regd,
        f"/api/v1/repositories/{repository}/-/access-rules",
        {"principal": principal, "actions": list(actions)},
    )


def bind_role(regd: RegdProcess, role: str, principal: str, namespace: str) -> None:
    """Bind ``role`` (registry-viewer, registry-editor) to ``principal`` on ``namespace``."""
    _post(
        regd,
        "/api/v1/role-bindings",
        {"role": role, "principal": principal, "namespace": namespace},
    )
