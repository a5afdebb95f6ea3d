"""``/api/v1/repositories/{name}/-/access-rules``: who may pull, push, delete here.

A rule names a principal (``user:alice``, ``api-client:cli-ab12c`` or ``public``) and its
actions; ``public`` grants pull and nothing else. A rule on ``acc-x/myapp`` covers the
images below it too (``acc-x/myapp/myapp``). Managing rules needs ``admin`` on the
repository: its owner, a ``registry-admin``, or the ``admin`` user.

Brightbox's "Add Access Rule": ``{"new-api-client": "deploy", "actions": ["pull"]}`` instead
of a ``principal`` creates an API client (owned by the caller) and its rule in one request,
and answers with the client's secret, shown this once.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from regd.auth.capabilities import ADMIN
from regd.auth.grants import AccessRule, check_rule_actions
from regd.errors import ErrorKind, RequestError
from regd.http.api.auth import refuse_limited_token
from regd.http.api.common import field, json_body, parse_principal, principal_ref
from regd.http.api.repositories import allowed_name
from regd.http.api.routes import DENIED, ApiRoute
from regd.http.keys import ACCESS, REGISTRY, principal

_NAME = "/api/v1/repositories/{name:.+}/-/access-rules"


def _rule(rule: AccessRule) -> dict[str, Any]:
    return {
        "principal": principal_ref(rule.principal_kind, rule.principal_id),
        "actions": rule.actions,
    }


async def list_rules(request: web.Request) -> web.Response:
    name = await allowed_name(request, ADMIN)
    return web.json_response(
        [_rule(rule) for rule in await request.app[ACCESS].grants.access_rules(name)]
    )


async def _known_repository(request: web.Request, name: str) -> None:
    """404 unless ``name`` is a repository or has repositories below it: a rule on a name
    nobody pushed to would pass to whoever creates it later."""
    registry = request.app[REGISTRY]
    if await registry.repositories.id_of(name) is None and not (
        await registry.inventory.list_repositories(name + "/")
    ):
        raise RequestError(
            ErrorKind.NOT_FOUND,
            f"no repository {name!r}: create it first (regctl repositories create)",
        )


async def set_rule(request: web.Request) -> web.Response:
    """Add or replace the rule of one principal (or of a new API client)."""
    name = await allowed_name(request, ADMIN)
    body = await json_body(request)
    await _known_repository(request, name)
    access = request.app[ACCESS]
    actions = field(body, "actions", list, required=True)
    description = field(body, "new-api-client", str, None)
    if description is None:
        kind, principal_id = parse_principal(
            field(body, "principal", str, required=True), allow_public=True
        )
        rule = await access.grants.set_access_rule(name, kind, principal_id, actions)
        return web.json_response(_rule(rule), status=201)
    if "principal" in body:
        raise RequestError(ErrorKind.INVALID, "give 'principal' or 'new-api-client', not both")
    caller = principal(request)
    await refuse_limited_token(request, "create an API client")
    check_rule_actions(actions)
    client, secret, rule = await access.accounts.create_api_client_with_rule(
        description=description,
        owner=caller.id if caller.kind == "user" else None,
        repository=name,
        actions=actions,
    )
    created = {"id": client.id, "description": client.description, "secret": secret}
    return web.json_response({**_rule(rule), "api-client": created}, status=201)


async def remove_rule(request: web.Request) -> web.Response:
    name = await allowed_name(request, ADMIN)
    kind, principal_id = parse_principal(request.match_info["principal"], allow_public=True)
    await request.app[ACCESS].grants.remove_access_rule(name, kind, principal_id)
    return web.Response(status=204)


_ACTIONS = {"type": "array", "items": {"type": "string", "enum": ["pull", "push", "delete"]}}
_RULE = {
    "type": "object",
    "properties": {
        "principal": {"type": "string", "description": "user:NAME, api-client:ID or public"},
        "actions": _ACTIONS,
    },
    "required": ["principal", "actions"],
}
_NEW_RULE = {
    "type": "object",
    "properties": {
        "principal": {"type": "string", "description": "user:NAME, api-client:ID or public"},
        "new-api-client": {
            "type": "string",
            "description": "instead of principal: create an API client with this description",
        },
        "actions": _ACTIONS,
    },
    "required": ["actions"],
}
_SET_RULE = {
    **_RULE,
    "properties": {
        **_RULE["properties"],  # type: ignore[dict-item]
        "api-client": {
            "type": "object",
            "description": "with new-api-client: the client made (id, description, secret)",
        },
    },
}

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        _NAME,
        list_rules,
        "List a repository's access rules",
        "repositories",
        {200: "access rules", 400: "invalid name", **DENIED},
        {"type": "array", "items": _RULE},
    ),
    ApiRoute(
        "POST",
        _NAME,
        set_rule,
        "Add or replace a principal's access rule",
        "repositories",
        {201: "set", 400: "invalid", 404: "no such repository or principal", **DENIED},
        _SET_RULE,
        _NEW_RULE,
    ),
    ApiRoute(
        "DELETE",
        _NAME + "/{principal}",
        remove_rule,
        "Remove a principal's access rule",
        "repositories",
        {204: "removed", 404: "no such rule", **DENIED},
    ),
)
