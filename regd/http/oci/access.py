"""The /v2/ access check: which repository and actions a request needs, and the verdict.

Anonymous and not allowed: 401 with a Bearer challenge naming the scope, so clients
fetch a token. Authenticated and not allowed: 403 DENIED. A registry token that lacks
a scope its principal does hold: 401 ``insufficient_scope``, so the client asks again.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from regd.auth.access import REPOSITORY, Resource, jwt_grants
from regd.auth.capabilities import DELETE, PULL, PUSH
from regd.http.authn import BadCredentials, Credentials, authenticate, challenge
from regd.http.errors import oci_error
from regd.http.keys import ACCESS, PRINCIPAL, REMOTES
from regd.registry.errors import ErrorCode, RegistryError

CATALOG_SCOPE = "registry:catalog:*"
_ACTIONS = {"GET": PULL, "HEAD": PULL, "DELETE": DELETE, "POST": PUSH, "PATCH": PUSH, "PUT": PUSH}


def _unauthorized(
    request: web.Request, scope: str | None, message: str, error: str | None = None
) -> web.Response:
    return oci_error(
        RegistryError(
            ErrorCode.UNAUTHORIZED,
            message,
            headers={"WWW-Authenticate": challenge(request, scope, error)},
        )
    )


def _denied() -> web.Response:
    return oci_error(RegistryError(ErrorCode.DENIED))


def _scope(name: str, action: str) -> str:
    # Clients ask for pull alongside push (they HEAD blobs before uploading).
    actions = "pull,push" if action == PUSH else action
    return f"repository:{name}:{actions}"


async def _refuse_mirror_writes(
    request: web.Request, name: str, action: str
) -> web.Response | None:
    """A pull-through mirror is read-only."""
    if action == PULL:
        return None
    target = await request.app[REMOTES].mirrored(name)
    if target is None:
        return None
    return oci_error(
        RegistryError(
            ErrorCode.DENIED,
            f"{name} is a pull-through mirror of {target.remote.address}: it is read-only",
        )
    )


async def _check_repository(
    request: web.Request, credentials: Credentials, name: str, action: str
) -> web.Response | None:
    access = request.app[ACCESS]
    principal = credentials.principal
    if credentials.claims is not None:
        if action in jwt_grants(credentials.claims, "repository", name):
            return await _refuse_mirror_writes(request, name, action)
        allowed = await access.authorize(principal, Resource(REPOSITORY, name), action)
        if allowed or principal.anonymous:
            return _unauthorized(
                request, _scope(name, action), "token lacks the scope", "insufficient_scope"
            )
        return _denied()
    if await access.authorize(principal, Resource(REPOSITORY, name), action):
        return await _refuse_mirror_writes(request, name, action)
    if principal.anonymous:
        return _unauthorized(request, _scope(name, action), "authentication required")
    return _denied()


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/v2"):
        return await handler(request)
    try:
        credentials = await authenticate(request)
    except BadCredentials as error:
        return _unauthorized(request, None, str(error))
    request[PRINCIPAL] = credentials.principal
    info = request.match_info
    name = info.get("name")
    if name is not None:
        refusal = await _check_repository(
            request, credentials, name, _ACTIONS.get(request.method, PUSH)
        )
        if refusal is not None:
            return refusal
    elif request.path in ("/v2/", "/v2"):
        if credentials.principal.anonymous:
            return _unauthorized(request, None, "authentication required")
    elif request.path == "/v2/_catalog":
        if credentials.principal.anonymous:
            return _unauthorized(request, CATALOG_SCOPE, "authentication required")
        if credentials.claims is not None and "*" not in jwt_grants(
            credentials.claims, "registry", "catalog"
        ):
            return _unauthorized(
                request, CATALOG_SCOPE, "token lacks the scope", "insufficient_scope"
            )
    return await handler(request)
