"""``/ui/session``: sign in (a password for a personal token in a cookie), who is signed
in (with the page's anti-forgery token), sign out (the token is revoked)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from regd.auth.principals import Principal
from regd.errors import ErrorKind, RequestError
from regd.http.api.common import field, json_body
from regd.http.authn import source_of
from regd.http.keys import ACCESS
from regd.http.session import (
    COOKIE,
    CrossSiteRefused,
    check_csrf,
    check_origin,
    clear_cookie,
    csrf_token,
    set_cookie,
)

#: How long a console session lasts; signing out ends it sooner.
SESSION_TTL = 8 * 3600
SESSION_NAME = "web console"


async def _session(request: web.Request, principal: Principal, value: str) -> dict[str, Any]:
    admin = await request.app[ACCESS].is_registry_admin(principal)
    return {"user": principal.id, "admin": admin, "csrf-token": csrf_token(value)}


async def _signed_in(request: web.Request) -> tuple[Principal, str] | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    found = await request.app[ACCESS].principal_of_token(value, ("personal",))
    return None if found is None else (found, value)


async def show(request: web.Request) -> web.Response:
    """Who is signed in: ``{"user": null}`` when nobody (not an error: the page asks first)."""
    found = await _signed_in(request)
    if found is None:
        response = web.json_response({"user": None})
        if COOKIE in request.cookies:
            clear_cookie(response, request)
        return response
    return web.json_response(await _session(request, *found))


async def sign_in(request: web.Request) -> web.Response:
    try:
        check_origin(request)  # no signing in a victim to the attacker's account either
    except CrossSiteRefused as error:
        raise RequestError(ErrorKind.FORBIDDEN, str(error)) from None
    body = await json_body(request)
    username = field(body, "username", str, required=True)
    password = field(body, "password", str, required=True)
    access = request.app[ACCESS]
    found = await access.authenticate_basic(username, password, source_of(request))
    if found is None or found.kind != "user" or found.token_id is not None:
        raise RequestError(ErrorKind.UNAUTHORIZED, "wrong user name or password")
    _info, value = await access.tokens.create(found, "personal", SESSION_TTL, name=SESSION_NAME)
    response = web.json_response(await _session(request, found, value), status=201)
    set_cookie(response, request, value, SESSION_TTL)
    return response


async def sign_out(request: web.Request) -> web.Response:
    found = await _signed_in(request)
    if found is not None:
        try:
            check_csrf(request, found[1])
        except CrossSiteRefused as error:
            raise RequestError(ErrorKind.FORBIDDEN, str(error)) from None
        if found[0].token_id is not None:
            await request.app[ACCESS].accounts.revoke_token(found[0].token_id)
    else:
        try:
            check_origin(request)
        except CrossSiteRefused as error:
            raise RequestError(ErrorKind.FORBIDDEN, str(error)) from None
    response = web.Response(status=204)
    clear_cookie(response, request)
    return response
