"""Authentication of /api/ requests, and the helpers handlers use to ask ``authorize()``."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from regd.auth.access import REGISTRY, Resource
from regd.auth.capabilities import ADMIN
from regd.auth.principals import Principal
from regd.errors import ErrorKind, RequestError
from regd.http.api import openapi
from regd.http.authn import BadCredentials, authenticate
from regd.http.errors import Unauthenticated
from regd.http.keys import ACCESS, PRINCIPAL, principal
from regd.http.session import COOKIE, CrossSiteRefused

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="regd", Bearer realm="regd"'}


@web.middleware
async def api_auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/") or request.path == openapi.PATH:
        return await handler(request)
    await authenticate_api(request)
    return await handler(request)


async def authenticate_api(request: web.Request) -> Principal:
    """The caller of a management endpoint (/api/, /metrics), set on the request; 401
    problem+json for no, bad or /v2/-only credentials."""
    # No Basic challenge to the console: a browser would answer it with a password dialog.
    challenge = {} if COOKIE in request.cookies else _CHALLENGE
    try:
        credentials = await authenticate(request)
    except CrossSiteRefused as error:
        raise RequestError(ErrorKind.FORBIDDEN, str(error)) from None
    except BadCredentials as error:
        raise Unauthenticated(str(error), challenge) from None
    if credentials.principal.anonymous:
        raise Unauthenticated("authentication required", challenge)
    if credentials.scheme == "bearer-jwt" and (credentials.claims or {}).get("access"):
        # A registry token scoped to repositories speaks for those scopes on /v2/ only;
        # carried here it would act with everything its subject may do. (A token minted
        # without scopes, as for an identity-token exchange, stands for its subject.)
        raise Unauthenticated(
            "a registry token scoped to repositories is for /v2/ only: "
            "use a personal token (regd_...), an API client secret or Basic",
            _CHALLENGE,
        )
    request[PRINCIPAL] = credentials.principal
    return credentials.principal


async def require(request: web.Request, resource: Resource, action: str) -> Principal:
    """The caller, when ``authorize()`` allows ``action`` on ``resource``; 403 otherwise."""
    caller = principal(request)
    if not await request.app[ACCESS].authorize(caller, resource, action):
        raise RequestError(
            ErrorKind.FORBIDDEN, f"{caller} may not {action} {resource.kind} {resource.name!r}"
        )
    return caller


async def require_admin(request: web.Request) -> Principal:
    return await require(request, Resource(REGISTRY), ADMIN)


async def is_admin(request: web.Request) -> bool:
    return await request.app[ACCESS].is_registry_admin(principal(request))


async def refuse_limited_token(request: web.Request, what: str) -> None:
    """403 when the caller uses a token limited to policies (and is no registry admin
    through it): such a token must not mint credentials that reach beyond its policies."""
    caller = principal(request)
    if caller.token_policies is not None and not await is_admin(request):
        raise RequestError(
            ErrorKind.FORBIDDEN, f"{caller} uses a token limited to policies: it may not {what}"
        )
