"""``/token``: the Docker registry token service (GET with Basic, POST OAuth2).

Grants the intersection of what was asked and what is allowed — never an error for
asking too much. Tokens are ES256 JWTs; ``offline_token=true`` (GET) or
``access_type=offline`` (POST password grant) also returns a refresh token, which docker
keeps as its identity token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from regd.auth.access import REPOSITORY, Resource
from regd.auth.capabilities import DELETE, PULL, PUSH
from regd.auth.principals import Principal
from regd.http.authn import BadCredentials, authenticate, source_of
from regd.http.keys import ACCESS, PRINCIPAL, SETTINGS
from regd.http.limits import TOKEN_BODY

_REPOSITORY_ACTIONS = (PULL, PUSH, DELETE)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"errors": [{"code": code, "message": message}]}, status=status)


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``repository:team/app:pull,push`` -> (type, name, actions)."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name or not actions:
        return None
    return kind, name, [action for action in actions.split(",") if action]


async def grant_access(
    request: web.Request, principal: Principal, scopes: list[str]
) -> list[dict[str, Any]]:
    """The access claims for ``principal``: what it asked for, cut down to what it may do."""
    access = request.app[ACCESS]
    granted: list[dict[str, Any]] = []
    for scope in scopes:
        parsed = parse_scope(scope)
        if parsed is None:
            continue
        kind, name, wanted = parsed
        if kind == "repository":
            if "*" in wanted:
                wanted = list(_REPOSITORY_ACTIONS)
            actions = await access.allowed_actions(principal, Resource(REPOSITORY, name), wanted)
        elif kind == "registry" and name == "catalog":
            actions = ["*"] if not principal.anonymous else []
        else:
            actions = []
        if actions:
            granted.append({"type": kind, "name": name, "actions": sorted(set(actions))})
    return granted


async def _respond(
    request: web.Request, principal: Principal, scopes: list[str], offline: bool, oauth: bool
) -> web.Response:
    access = request.app[ACCESS]
    settings = request.app[SETTINGS]
    request[PRINCIPAL] = principal  # for the audit log's login event
    claims = await grant_access(request, principal, scopes)
    token, issued = await access.issue(principal, claims, settings.token_lifetime)
    body: dict[str, Any] = {
        "access_token": token,
        "expires_in": int(settings.token_lifetime),
        "issued_at": datetime.fromtimestamp(issued, UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
    }
    if oauth:
        body["scope"] = " ".join(scopes)
    else:
        body["token"] = token
    if offline and not principal.anonymous:
        _info, refresh = await access.tokens.create(
            principal,
            "refresh",
            settings.refresh_token_lifetime,
            name=f"login session ({request.query.get('client_id') or 'oauth'})",
            parent=principal.token_id,
        )
        body["refresh_token"] = refresh
    return web.json_response(body)


def _check_service(request: web.Request, service: str | None) -> web.Response | None:
    expected = request.app[SETTINGS].service
    if service and service != expected:
        return _error(400, "UNSUPPORTED", f"unknown service {service!r}; this is {expected!r}")
    return None


async def get_token(request: web.Request) -> web.Response:
    bad_service = _check_service(request, request.query.get("service"))
    if bad_service is not None:
        return bad_service
    try:
        credentials = await authenticate(request)
    except BadCredentials as error:
        return _error(401, "UNAUTHORIZED", str(error))
    offline = request.query.get("offline_token", "").lower() == "true"
    return await _respond(
        request, credentials.principal, request.query.getall("scope", []), offline, oauth=False
    )


async def post_token(request: web.Request) -> web.Response:
    length = request.content_length
    if length is not None and length > TOKEN_BODY:
        # Anonymous callers reach this: never read a large body whole (a chunked one is
        # capped by the application's READ_WHOLE).
        return _oauth_error(413, "invalid_request", f"the body must be at most {TOKEN_BODY} bytes")
    form = await request.post()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    bad_service = _check_service(request, fields.get("service"))
    if bad_service is not None:
        return bad_service
    access = request.app[ACCESS]
    scopes = [scope for scope in fields.get("scope", "").split(" ") if scope]
    grant_type = fields.get("grant_type")
    if grant_type == "password":
        principal = await access.authenticate_basic(
            fields.get("username", ""), fields.get("password", ""), source_of(request)
        )
        if principal is None:
            return _oauth_error(401, "invalid_grant", "invalid username or password")
        offline = fields.get("access_type") == "offline"
        return await _respond(request, principal, scopes, offline, oauth=True)
    if grant_type == "refresh_token":
        found = await access.principal_of_token(fields.get("refresh_token", ""), kinds=("refresh",))
        if found is None:
            return _oauth_error(401, "invalid_grant", "invalid, expired or revoked refresh token")
        body_response = await _respond(request, found, scopes, offline=False, oauth=True)
        return body_response
    return _oauth_error(400, "unsupported_grant_type", "grant_type is password or refresh_token")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/token", get_token)
    app.router.add_post("/token", post_token)
