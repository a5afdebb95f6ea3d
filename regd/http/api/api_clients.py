"""``/api/v1/api-clients``: robots (``cli-xxxxx``) with a secret shown once.

A new client holds nothing until granted: ``grants``, a ``role`` on a ``namespace`` (a
role binding, listed with the others), access rules or policies. A caller may give a
robot only what it holds itself: each capability over each repository glob.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from regd.auth.access import REPOSITORY, Resource
from regd.auth.capabilities import ROLES
from regd.auth.identities import ApiClient, normalize_grants
from regd.auth.tokens import parse_ttl
from regd.errors import ErrorKind, RequestError
from regd.http.api.auth import is_admin, refuse_limited_token
from regd.http.api.common import field, json_body, timestamp
from regd.http.api.routes import DENIED, GRANTS_SCHEMA, ApiRoute
from regd.http.keys import ACCESS, principal

BASE = "/api/v1/api-clients"


def _client(client: ApiClient, policies: list[str]) -> dict[str, Any]:
    return {
        "id": client.id,
        "description": client.description,
        "owner": client.owner,
        "namespace": client.namespace,
        "grants": client.grants,
        "policies": policies,
        "expires-at": timestamp(client.expires_at),
        "created-at": timestamp(client.created_at),
    }


async def _render(request: web.Request, client: ApiClient) -> dict[str, Any]:
    return _client(client, await request.app[ACCESS].grants.bound_policies("api-client", client.id))


async def _may_grant(request: web.Request, grants: list[dict[str, Any]]) -> None:
    """403 unless the caller holds every capability over every glob it hands out."""
    access, caller = request.app[ACCESS], principal(request)
    for item in grants:
        for glob in item["repositories"]:
            for capability in sorted(item["capabilities"]):
                if not await access.authorize(caller, Resource(REPOSITORY, glob), capability):
                    raise RequestError(
                        ErrorKind.FORBIDDEN, f"{caller} may not grant {capability} on {glob!r}"
                    )


async def list_clients(request: web.Request) -> web.Response:
    identities = request.app[ACCESS].identities
    caller = principal(request)
    found = await identities.api_clients(None if await is_admin(request) else caller.id)
    return web.json_response([await _render(request, client) for client in found])


async def create_client(request: web.Request) -> web.Response:
    body = await json_body(request)
    caller = principal(request)
    access = request.app[ACCESS]
    # A robot or a token limited to policies would make a client outliving its own expiry.
    if caller.kind == "api-client" and not await is_admin(request):
        raise RequestError(
            ErrorKind.FORBIDDEN, f"{caller} is an API client: it may not create API clients"
        )
    await refuse_limited_token(request, "create an API client")
    grants = normalize_grants(field(body, "grants", list, None))
    namespace = field(body, "namespace", str, None)
    role = field(body, "role", str, None)
    if role is not None and (role not in ROLES or not namespace):
        raise RequestError(
            ErrorKind.INVALID, f"role is one of {', '.join(sorted(ROLES))}, bound with a namespace"
        )
    role_grant = []
    if namespace and role:
        role_grant = [
            {"capabilities": sorted(ROLES[role][1]), "repositories": [namespace, namespace + "/*"]}
        ]
    await _may_grant(request, grants + role_grant)
    ttl = field(body, "ttl", str, None)
    client, secret = await access.accounts.create_api_client(
        description=field(body, "description", str, ""),
        owner=caller.id if caller.kind == "user" else None,
        grants=grants,
        namespace=namespace,
        role=role,
        expires_at=time.time() + parse_ttl(ttl) if ttl else None,
    )
    return web.json_response({**await _render(request, client), "secret": secret}, status=201)


async def _visible(request: web.Request) -> ApiClient:
    client = await request.app[ACCESS].identities.api_client(request.match_info["id"])
    caller = principal(request)
    if client.owner != caller.id and not await is_admin(request):
        raise RequestError(ErrorKind.NOT_FOUND, f"no API client {client.id!r}")
    return client


async def show_client(request: web.Request) -> web.Response:
    return web.json_response(await _render(request, await _visible(request)))


async def reset_secret(request: web.Request) -> web.Response:
    client = await _visible(request)
    await refuse_limited_token(request, "reset an API client's secret")
    secret = await request.app[ACCESS].accounts.reset_secret(client.id)
    return web.json_response({**await _render(request, client), "secret": secret})


async def delete_client(request: web.Request) -> web.Response:
    client = await _visible(request)
    await request.app[ACCESS].accounts.delete_api_client(client.id)
    return web.Response(status=204)


_CLIENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^cli-[a-z0-9]{5}$"},
        "description": {"type": "string"},
        "owner": {"type": ["string", "null"]},
        "namespace": {"type": ["string", "null"]},
        "grants": GRANTS_SCHEMA,
        "policies": {"type": "array", "items": {"type": "string"}},
        "expires-at": {"type": ["string", "null"]},
        "created-at": {"type": "string"},
        "secret": {"type": "string", "description": "only at creation and reset"},
    },
}
_NEW_CLIENT = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "grants": GRANTS_SCHEMA,
        "namespace": {"type": "string"},
        "role": {"type": "string", "enum": sorted(ROLES)},
        "ttl": {"type": "string"},
    },
}

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        BASE,
        list_clients,
        "List API clients (yours; admins: all)",
        "api-clients",
        {200: "API clients", **DENIED},
        {"type": "array", "items": _CLIENT},
    ),
    ApiRoute(
        "POST",
        BASE,
        create_client,
        "Create an API client; the secret is shown once",
        "api-clients",
        {201: "created", 400: "invalid", **DENIED},
        _CLIENT,
        _NEW_CLIENT,
    ),
    ApiRoute(
        "GET",
        BASE + "/{id}",
        show_client,
        "Show an API client",
        "api-clients",
        {200: "the API client", 404: "no such API client", **DENIED},
        _CLIENT,
    ),
    ApiRoute(
        "POST",
        BASE + "/{id}/reset-secret",
        reset_secret,
        "Give an API client a new secret",
        "api-clients",
        {200: "the new secret, shown once", 404: "no such API client", **DENIED},
        _CLIENT,
    ),
    ApiRoute(
        "DELETE",
        BASE + "/{id}",
        delete_client,
        "Delete an API client",
        "api-clients",
        {204: "deleted", 404: "no such API client", **DENIED},
    ),
)
