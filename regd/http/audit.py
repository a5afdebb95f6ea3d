"""The audit middleware: which requests are security-relevant events, and recording them.

An event is named by the route a request matched (``EVENTS``) and recorded after the
answer with its outcome: ``success`` (2xx/3xx), ``denied`` (401, 403) or ``failure``.
Any other request answered 401 although it carried credentials is a failed ``login``.
Details are the route's path parameters (names: repository, tag, token id, secret name)
— never a body or a header value.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from regd.audit import AuditLog
from regd.auth.principals import Principal
from regd.http.keys import PRINCIPAL

AUDIT: web.AppKey[AuditLog] = web.AppKey("audit", AuditLog)
#: The request id of a request: the client's (or proxy's) ``X-Request-Id``, else made up.
REQUEST_ID = "regd.request_id"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_API = "/api/v1"
_V2 = "/v2/{name:.+}"
_VAULT = _API + "/strongbox/vaults/{vault}"
_SECRET = _VAULT + "/secrets/{secret}"
_REMOTE = _API + "/image-registry/remote-registries"
_REPOSITORY = _API + "/repositories/{name:.+}"

#: (method, route as registered) -> event name.
EVENTS: dict[tuple[str, str], str] = {
    ("GET", "/token"): "login",
    ("POST", "/token"): "login",
    ("POST", _API + "/tokens"): "token.create",
    ("POST", _API + "/token"): "token.create",
    ("POST", _API + "/strongbox/token/create-token"): "token.create",
    ("DELETE", _API + "/tokens/{id}"): "token.revoke",
    ("POST", _API + "/users"): "user.create",
    ("PATCH", _API + "/users/{name}"): "user.update",
    ("DELETE", _API + "/users/{name}"): "user.delete",
    ("POST", _API + "/api-clients"): "api-client.create",
    ("POST", _API + "/api-clients/{id}/reset-secret"): "api-client.reset-secret",
    ("DELETE", _API + "/api-clients/{id}"): "api-client.revoke",
    ("POST", _API + "/policies"): "policy.create",
    ("DELETE", _API + "/policies/{name}"): "policy.delete",
    ("POST", _API + "/policies/{name}/bindings"): "grant.create",
    ("DELETE", _API + "/policies/{name}/bindings/{principal}"): "grant.delete",
    ("POST", _API + "/role-bindings"): "grant.create",
    ("DELETE", _API + "/role-bindings/{role}/{principal}/{namespace:.+}"): "grant.delete",
    ("POST", _REPOSITORY + "/-/access-rules"): "access-rule.create",
    ("DELETE", _REPOSITORY + "/-/access-rules/{principal}"): "access-rule.delete",
    ("POST", _API + "/repositories"): "repository.create",
    ("DELETE", _REPOSITORY): "repository.delete",
    ("DELETE", _REPOSITORY + "/-/tags/{tag}"): "delete",
    ("POST", _API + "/strongbox/vaults"): "vault.create",
    ("PUT", _VAULT): "vault.replace",
    ("DELETE", _VAULT): "vault.delete",
    ("GET", _SECRET): "secret.read",
    ("GET", _SECRET + "/docker-config"): "secret.read",
    ("GET", _SECRET + "/k8s-secret"): "secret.read",
    ("POST", _VAULT + "/secrets"): "secret.create",
    ("PUT", _SECRET): "secret.replace",
    ("DELETE", _SECRET): "secret.delete",
    ("POST", _REMOTE): "remote.create",
    ("PUT", _REMOTE + "/{address}"): "remote.replace",
    ("DELETE", _REMOTE + "/{address}"): "remote.delete",
    ("POST", _API + "/image-registry/settings"): "settings.change",
    ("PUT", _API + "/image-registry/settings"): "settings.change",
    ("PATCH", _API + "/image-registry/settings"): "settings.change",
    ("POST", _API + "/webhooks"): "webhook.create",
    ("DELETE", _API + "/webhooks/{name}"): "webhook.delete",
    ("PUT", _V2 + "/manifests/{reference}"): "push",
    ("DELETE", _V2 + "/manifests/{reference}"): "delete",
    ("DELETE", _V2 + "/blobs/{digest}"): "delete",
}


def _canonical(route: str) -> str:
    """``/v2/{name:.+}/x`` -> ``/v2/{name}/x``, as aiohttp's ``resource.canonical`` says."""
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route)


_BY_CANONICAL = {(method, _canonical(route)): event for (method, route), event in EVENTS.items()}


def register(routes: dict[tuple[str, str], str]) -> None:
    """Audit more routes (``(method, route) -> event``), e.g. from a module that adds them."""
    EVENTS.update(routes)
    _BY_CANONICAL.update({(m, _canonical(r)): event for (m, r), event in routes.items()})


def request_id(request: web.Request) -> str:
    found = request.get(REQUEST_ID)
    if not isinstance(found, str):
        given = request.headers.get("X-Request-Id", "")[:64]
        found = request[REQUEST_ID] = given if given.isprintable() and given else uuid.uuid4().hex
    return found


def _principal(request: web.Request) -> str:
    found = request.get(PRINCIPAL)
    if isinstance(found, Principal):
        return found.subject
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            name = base64.b64decode(header[6:]).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return "anonymous"
        if name:
            return f"api-client:{name}" if name.startswith("cli-") else f"user:{name}"
    return "anonymous"


def _outcome(status: int) -> str:
    if status < 400:
        return "success"
    return "denied" if status in (401, 403) else "failure"


async def record(
    request: web.Request, event: str, outcome: str = "success", **details: Any
) -> None:
    """Record ``event`` for ``request`` (its principal, address and request id)."""
    await request.app[AUDIT].record(
        event,
        principal=_principal(request),
        source=request.remote or "",
        request_id=request_id(request),
        outcome=outcome,
        **details,
    )


def _event(request: web.Request, status: int) -> str | None:
    route = request.match_info.route.resource
    canonical = route.canonical if route is not None else ""
    event = _BY_CANONICAL.get((request.method, canonical))
    if event is None and status == 401 and "Authorization" in request.headers:
        return "login"
    return event


def middleware() -> Middleware:
    @web.middleware
    async def audit(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            await _after(request, error.status)
            raise
        await _after(request, response.status)
        return response

    return audit


async def _after(request: web.Request, status: int) -> None:
    event = _event(request, status)
    if event is None:
        return
    details: dict[str, Any] = dict(request.match_info)
    if "secret" in details:
        details["secret_name"] = details.pop("secret")
    if "principal" in details:  # a grant's principal, not the caller
        details["grantee"] = details.pop("principal")
    if "name" in details and request.path.startswith("/v2/"):
        details["repository"] = details.pop("name")
    if event == "login" and request.path != "/token":
        details["path"] = request.path
    details["status"] = status
    await record(request, event, _outcome(status), **details)
