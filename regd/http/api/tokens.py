"""``/api/v1/tokens``: personal access tokens; ``/api/v1/token``: a short-lived one for the caller.

Also ``/api/v1/strongbox/token/create-token`` (supctl's ``do strongbox token create-token``).
A token's value is shown once, at creation; listings show its accessor (``id``) only.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from regd.auth.identities import IdentityError
from regd.auth.principals import Principal
from regd.auth.tokens import TokenInfo, parse_ttl
from regd.errors import ErrorKind, RequestError
from regd.http.api.auth import is_admin, refuse_limited_token
from regd.http.api.common import check_policies, field, json_body, principal_ref, timestamp
from regd.http.api.routes import DENIED, ApiRoute
from regd.http.keys import ACCESS, principal

#: Tokens minted for someone else (``for``): who, for whom, which accessor.
audit = logging.getLogger("regd.audit")
BASE = "/api/v1/tokens"
SESSION_TTL = 3600.0


def _token(info: TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "kind": info.kind,
        "principal": principal_ref(info.principal_kind, info.principal_id),
        "policies": info.policies,
        "expires-at": timestamp(info.expires_at),
        "revoked-at": timestamp(info.revoked_at),
        "created-at": timestamp(info.created_at),
    }


def _ttl(value: Any, default: str | None) -> float:
    if value is None:
        if default is None:
            raise RequestError(
                ErrorKind.INVALID, "'ttl' is required: an unlimited token is refused"
            )
        value = default
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(int(value))
    if not isinstance(value, str):
        raise RequestError(ErrorKind.INVALID, "'ttl' is a duration like 4h, 30m or 1y2d5h")
    return parse_ttl(value)


async def _service_account(request: web.Request, reference: str) -> Principal:
    """The API client a token is minted ``for`` (OpenShift: a service account's token), when
    the caller may manage it: a registry admin, or the user who owns it. Audited."""
    client_id = reference.removeprefix("api-client:")
    caller = principal(request)
    try:
        client = await request.app[ACCESS].identities.api_client(client_id)
    except IdentityError:
        raise RequestError(ErrorKind.NOT_FOUND, f"no API client {client_id!r}") from None
    if client.owner != caller.id and not await is_admin(request):
        raise RequestError(ErrorKind.NOT_FOUND, f"no API client {client_id!r}")
    await refuse_limited_token(request, "mint tokens for an API client")
    if client.expired():
        raise RequestError(ErrorKind.CONFLICT, f"API client {client_id!r} has expired")
    return Principal("api-client", client.id)


async def _create(request: web.Request, kind: str, default_ttl: str | None) -> dict[str, Any]:
    body = await json_body(request)
    owner = principal(request)
    on_behalf = field(body, "for", str, None) if kind == "personal" else None
    if on_behalf is not None:
        owner = await _service_account(request, on_behalf)
    policies = field(body, "policies", list, None)
    await check_policies(request, policies)
    info, value = await request.app[ACCESS].tokens.create(
        owner,
        "personal" if kind == "personal" else "session",
        _ttl(body.get("ttl"), default_ttl),
        name=field(body, "name", str, ""),
        policies=policies,
    )
    if on_behalf is not None:
        # The audit hook: who minted which token for which API client (never its value).
        audit.info(
            "token %s (ttl until %s) minted for %s by %s",
            info.id,
            timestamp(info.expires_at),
            principal_ref(owner.kind, owner.id),
            principal(request),
        )
    return {
        **_token(info),
        "token": value,
        "accessor": info.id,
        "creation-time": timestamp(info.created_at),
    }


async def create_token(request: web.Request) -> web.Response:
    return web.json_response(await _create(request, "personal", None), status=201)


async def create_token_supctl(request: web.Request) -> web.Response:
    """supctl's ``do strongbox token create-token --policies registry-push --ttl 4h``."""
    return web.json_response(await _create(request, "personal", None), status=201)


async def mint_token(request: web.Request) -> web.Response:
    """A short-lived token for the caller (``regctl token show``, like ``oc whoami -t``)."""
    return web.json_response(await _create(request, "session", "1h"), status=201)


async def list_tokens(request: web.Request) -> web.Response:
    caller = principal(request)
    tokens = request.app[ACCESS].tokens
    if await is_admin(request) and request.query.get("all") == "true":
        found = await tokens.list()
    else:
        found = await tokens.list(caller.kind, caller.id)
    return web.json_response([_token(info) for info in found])


async def _own(request: web.Request) -> TokenInfo:
    info = await request.app[ACCESS].tokens.get(request.match_info["id"])
    caller = principal(request)
    mine = info.principal_kind == caller.kind and info.principal_id == caller.id
    if not mine and info.principal_kind == "api-client" and caller.kind == "user":
        # The tokens of an API client one owns (minted with "for") are its owner's to manage.
        try:
            client = await request.app[ACCESS].identities.api_client(info.principal_id)
        except IdentityError:
            client = None
        mine = client is not None and client.owner == caller.id
    if not mine and not await is_admin(request):
        raise RequestError(ErrorKind.NOT_FOUND, f"no token {info.id!r}")
    return info


async def show_token(request: web.Request) -> web.Response:
    return web.json_response(_token(await _own(request)))


async def revoke_token(request: web.Request) -> web.Response:
    info = await _own(request)
    await request.app[ACCESS].accounts.revoke_token(info.id)
    return web.Response(status=204)


_TOKEN = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "principal": {"type": "string"},
        "policies": {"type": ["array", "null"], "items": {"type": "string"}},
        "expires-at": {"type": "string"},
        "revoked-at": {"type": ["string", "null"]},
        "created-at": {"type": "string"},
        "token": {"type": "string", "description": "only in the creation response"},
    },
}
_NEW_TOKEN = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "ttl": {"type": "string", "description": "4h, 30m, 1y2d5h"},
        "policies": {"type": "array", "items": {"type": "string"}},
        "for": {
            "type": "string",
            "description": "an API client (cli-xxxxx) you own or, as a registry admin, any: "
            "the token is that client's (a service account's token)",
        },
    },
}

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        BASE,
        list_tokens,
        "List your tokens (admins: ?all=true)",
        "tokens",
        {200: "tokens, without their values", **DENIED},
        {"type": "array", "items": _TOKEN},
        query=(("all", "true: every principal's tokens (admins)"),),
    ),
    ApiRoute(
        "POST",
        BASE,
        create_token,
        "Create a personal access token",
        "tokens",
        {
            201: "created; the value is shown once",
            400: "invalid",
            404: "no API client named by 'for' that the caller owns",
            409: "the API client named by 'for' has expired",
            **DENIED,
        },
        _TOKEN,
        _NEW_TOKEN,
    ),
    ApiRoute(
        "GET",
        BASE + "/{id}",
        show_token,
        "Show a token",
        "tokens",
        {200: "the token", 404: "no such token", **DENIED},
        _TOKEN,
    ),
    ApiRoute(
        "DELETE",
        BASE + "/{id}",
        revoke_token,
        "Revoke a token",
        "tokens",
        {204: "revoked", 404: "no such active token", **DENIED},
    ),
    ApiRoute(
        "POST",
        "/api/v1/token",
        mint_token,
        "Mint a short-lived token for the caller",
        "tokens",
        {201: "created", 400: "invalid", **DENIED},
        _TOKEN,
        _NEW_TOKEN,
    ),
    ApiRoute(
        "POST",
        "/api/v1/strongbox/token/create-token",
        create_token_supctl,
        "Create a token (supctl: do strongbox token create-token)",
        "tokens",
        {201: "created", 400: "invalid", **DENIED},
        _TOKEN,
        _NEW_TOKEN,
    ),
)
