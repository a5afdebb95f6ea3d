"""``/api/v1/users``: people. Admins manage everyone; a user reads and re-keys itself."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from regd.auth.identities import User
from regd.errors import ErrorKind, RequestError
from regd.http.api.auth import is_admin, refuse_limited_token, require_admin
from regd.http.api.common import field, json_body, timestamp
from regd.http.api.routes import DENIED, ApiRoute
from regd.http.keys import ACCESS, principal

BASE = "/api/v1/users"


def _user(user: User, policies: list[str]) -> dict[str, Any]:
    return {
        "name": user.name,
        "admin": user.admin,
        "policies": policies,
        "created-at": timestamp(user.created_at),
    }


async def _render(request: web.Request, user: User) -> dict[str, Any]:
    return _user(user, await request.app[ACCESS].grants.bound_policies("user", user.name))


async def _self_or_admin(request: web.Request) -> str:
    name = request.match_info["name"]
    caller = principal(request)
    if not (caller.kind == "user" and caller.id == name) and not await is_admin(request):
        raise RequestError(ErrorKind.FORBIDDEN, f"{caller} may only see and change itself")
    return name


async def list_users(request: web.Request) -> web.Response:
    await require_admin(request)
    users = await request.app[ACCESS].identities.users()
    return web.json_response([await _render(request, user) for user in users])


async def create_user(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await json_body(request)
    # One transaction: an unknown policy or a taken name stores nothing.
    user = await request.app[ACCESS].accounts.create_user(
        field(body, "name", str, required=True),
        field(body, "password", str, required=True),
        admin=bool(field(body, "admin", bool, False)),
        policies=[str(policy) for policy in field(body, "policies", list, [])],
    )
    return web.json_response(await _render(request, user), status=201)


async def show_user(request: web.Request) -> web.Response:
    name = await _self_or_admin(request)
    return web.json_response(
        await _render(request, await request.app[ACCESS].identities.user(name))
    )


async def change_user(request: web.Request) -> web.Response:
    """PATCH: a new ``password`` (self or admin)."""
    name = await _self_or_admin(request)
    await refuse_limited_token(request, "change a password")
    body = await json_body(request)
    access = request.app[ACCESS]
    password = field(body, "password", str, None)
    if password is not None:
        await access.accounts.change_password(name, password)
    return web.json_response(await _render(request, await access.identities.user(name)))


async def delete_user(request: web.Request) -> web.Response:
    await require_admin(request)
    await request.app[ACCESS].accounts.delete_user(request.match_info["name"])
    return web.Response(status=204)


_USER = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "admin": {"type": "boolean"},
        "policies": {"type": "array", "items": {"type": "string"}},
        "created-at": {"type": "string"},
    },
}
_NEW_USER = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "password": {"type": "string", "writeOnly": True},
        "admin": {"type": "boolean"},
        "policies": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "password"],
}

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        BASE,
        list_users,
        "List users",
        "users",
        {200: "users", **DENIED},
        {"type": "array", "items": _USER},
    ),
    ApiRoute(
        "POST",
        BASE,
        create_user,
        "Create a user",
        "users",
        {201: "created", 400: "invalid", 409: "exists", **DENIED},
        _USER,
        _NEW_USER,
    ),
    ApiRoute(
        "GET",
        BASE + "/{name}",
        show_user,
        "Show a user",
        "users",
        {200: "the user", 404: "no such user", **DENIED},
        _USER,
    ),
    ApiRoute(
        "PATCH",
        BASE + "/{name}",
        change_user,
        "Change a user's password",
        "users",
        {200: "changed", 400: "invalid", 404: "no such user", **DENIED},
        _USER,
        {"type": "object", "properties": {"password": {"type": "string", "writeOnly": True}}},
    ),
    ApiRoute(
        "DELETE",
        BASE + "/{name}",
        delete_user,
        "Delete a user",
        "users",
        {204: "deleted", 404: "no such user", 409: "admin cannot be deleted", **DENIED},
    ),
)
