"""``/api/v1/repositories/{name}/-/access-rules``: who may pull, push, delete here.

A rule names a principal (``user:alice``, ``api-client:cli-ab12c`` or ``public``) and its
actions; ``public`` grants pull and nothing else. Managing rules needs ``admin`` on the
repository: its owner, a ``registry-admin``, or the ``admin`` user.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from regd.auth.capabilities import ADMIN
from regd.auth.grants import AccessRule
from regd.http.api.common import field, json_body, parse_principal, principal_ref
from regd.http.api.repositories import allowed_name
from regd.http.api.routes import DENIED, ApiRoute
from regd.http.keys import ACCESS

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


async def set_rule(request: web.Request) -> web.Response:
    """Add or replace the rule of one principal."""
    name = await allowed_name(request, ADMIN)
    body = await json_body(request)
    kind, principal_id = parse_principal(
        field(body, "principal", str, required=True), allow_public=True
    )
    rule = await request.app[ACCESS].grants.set_access_rule(
        name, kind, principal_id, field(body, "actions", list, required=True)
    )
    return web.json_response(_rule(rule), status=201)


async def remove_rule(request: web.Request) -> web.Response:
    name = await allowed_name(request, ADMIN)
    kind, principal_id = parse_principal(request.match_info["principal"], allow_public=True)
    await request.app[ACCESS].grants.remove_access_rule(name, kind, principal_id)
    return web.Response(status=204)


_RULE = {
    "type": "object",
    "properties": {
        "principal": {"type": "string", "description": "user:NAME, api-client:ID or public"},
        "actions": {
            "type": "array",
            "items": {"type": "string", "enum": ["pull", "push", "delete"]},
        },
    },
    "required": ["principal", "actions"],
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
        {201: "set", 400: "invalid", **DENIED},
        _RULE,
        _RULE,
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
