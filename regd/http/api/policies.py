"""``/api/v1/policies`` (capability bundles) and ``/api/v1/roles`` + ``/api/v1/role-bindings``.

Built-in policies (``registry-pull``, ``registry-push``, ...) and roles
(``registry-viewer``, ``registry-editor``) cannot be changed. Only registry admins write.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from regd.auth.capabilities import ROLES
from regd.auth.grants import Policy, RoleBinding
from regd.http.api.auth import require_admin
from regd.http.api.common import field, json_body, parse_principal, principal_ref
from regd.http.api.routes import DENIED, GRANTS_SCHEMA, ApiRoute
from regd.http.keys import ACCESS

BASE = "/api/v1/policies"


def _policy(policy: Policy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "description": policy.description,
        "rules": policy.rules,
        "builtin": policy.builtin,
    }


def _binding(binding: RoleBinding) -> dict[str, Any]:
    return {
        "role": binding.role,
        "principal": principal_ref(binding.principal_kind, binding.principal_id),
        "namespace": binding.namespace,
    }


async def list_policies(request: web.Request) -> web.Response:
    await require_admin(request)
    return web.json_response([_policy(p) for p in await request.app[ACCESS].grants.policies()])


async def create_policy(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await json_body(request)
    policy = await request.app[ACCESS].grants.create_policy(
        field(body, "name", str, required=True),
        field(body, "description", str, ""),
        field(body, "rules", list, required=True),
    )
    return web.json_response(_policy(policy), status=201)


async def show_policy(request: web.Request) -> web.Response:
    await require_admin(request)
    return web.json_response(
        _policy(await request.app[ACCESS].grants.policy(request.match_info["name"]))
    )


async def delete_policy(request: web.Request) -> web.Response:
    await require_admin(request)
    await request.app[ACCESS].grants.delete_policy(request.match_info["name"])
    return web.Response(status=204)


async def bind_policy(request: web.Request) -> web.Response:
    """Attach a policy to a principal: ``{"principal": "user:alice"}``."""
    await require_admin(request)
    body = await json_body(request)
    kind, principal_id = parse_principal(field(body, "principal", str, required=True))
    await request.app[ACCESS].grants.bind_policy(request.match_info["name"], kind, principal_id)
    return web.json_response(
        {"policy": request.match_info["name"], "principal": principal_ref(kind, principal_id)},
        status=201,
    )


async def unbind_policy(request: web.Request) -> web.Response:
    await require_admin(request)
    kind, principal_id = parse_principal(request.match_info["principal"])
    await request.app[ACCESS].grants.unbind_policy(request.match_info["name"], kind, principal_id)
    return web.Response(status=204)


async def list_roles(request: web.Request) -> web.Response:
    return web.json_response(
        [
            {"name": name, "description": description, "capabilities": sorted(capabilities)}
            for name, (description, capabilities) in sorted(ROLES.items())
        ]
    )


async def list_role_bindings(request: web.Request) -> web.Response:
    await require_admin(request)
    return web.json_response(
        [_binding(b) for b in await request.app[ACCESS].grants.role_bindings()]
    )


async def create_role_binding(request: web.Request) -> web.Response:
    """``{"role": "registry-editor", "principal": "api-client:cli-ab12c", "namespace": "team"}``."""
    await require_admin(request)
    body = await json_body(request)
    kind, principal_id = parse_principal(field(body, "principal", str, required=True))
    binding = await request.app[ACCESS].grants.bind_role(
        field(body, "role", str, required=True),
        kind,
        principal_id,
        field(body, "namespace", str, required=True),
    )
    return web.json_response(_binding(binding), status=201)


async def delete_role_binding(request: web.Request) -> web.Response:
    """``DELETE /api/v1/role-bindings/{role}/{principal}/{namespace}``."""
    await require_admin(request)
    kind, principal_id = parse_principal(request.match_info["principal"])
    await request.app[ACCESS].grants.unbind_role(
        request.match_info["role"], kind, principal_id, request.match_info["namespace"]
    )
    return web.Response(status=204)


_POLICY = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "rules": GRANTS_SCHEMA,
        "builtin": {"type": "boolean"},
    },
}
_BINDING = {
    "type": "object",
    "properties": {
        "role": {"type": "string", "enum": sorted(ROLES)},
        "principal": {"type": "string", "description": "user:NAME or api-client:ID"},
        "namespace": {"type": "string"},
    },
    "required": ["role", "principal", "namespace"],
}
_PRINCIPAL = {
    "type": "object",
    "properties": {"principal": {"type": "string"}},
    "required": ["principal"],
}

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        BASE,
        list_policies,
        "List policies",
        "policies",
        {200: "policies", **DENIED},
        {"type": "array", "items": _POLICY},
    ),
    ApiRoute(
        "POST",
        BASE,
        create_policy,
        "Create a policy",
        "policies",
        {201: "created", 400: "invalid", 409: "exists or built-in", **DENIED},
        _POLICY,
        _POLICY,
    ),
    ApiRoute(
        "GET",
        BASE + "/{name}",
        show_policy,
        "Show a policy",
        "policies",
        {200: "the policy", 404: "no such policy", **DENIED},
        _POLICY,
    ),
    ApiRoute(
        "DELETE",
        BASE + "/{name}",
        delete_policy,
        "Delete a policy",
        "policies",
        {204: "deleted", 404: "no such policy", 409: "built-in", **DENIED},
    ),
    ApiRoute(
        "POST",
        BASE + "/{name}/bindings",
        bind_policy,
        "Attach a policy to a principal",
        "policies",
        {201: "attached", 400: "invalid", 404: "no such policy", **DENIED},
        _PRINCIPAL,
        _PRINCIPAL,
    ),
    ApiRoute(
        "DELETE",
        BASE + "/{name}/bindings/{principal}",
        unbind_policy,
        "Detach a policy from a principal",
        "policies",
        {204: "detached", 404: "not attached", **DENIED},
    ),
    ApiRoute(
        "GET",
        "/api/v1/roles",
        list_roles,
        "List roles",
        "roles",
        {200: "roles", **DENIED},
        {"type": "array", "items": {"type": "object"}},
    ),
    ApiRoute(
        "GET",
        "/api/v1/role-bindings",
        list_role_bindings,
        "List role bindings",
        "roles",
        {200: "role bindings", **DENIED},
        {"type": "array", "items": _BINDING},
    ),
    ApiRoute(
        "POST",
        "/api/v1/role-bindings",
        create_role_binding,
        "Bind a role on a namespace",
        "roles",
        {201: "bound", 400: "invalid", **DENIED},
        _BINDING,
        _BINDING,
    ),
    ApiRoute(
        "DELETE",
        "/api/v1/role-bindings/{role}/{principal}/{namespace:.+}",
        delete_role_binding,
        "Remove a role binding",
        "roles",
        {204: "removed", 404: "no such binding", **DENIED},
    ),
)
