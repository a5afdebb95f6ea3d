"""The web console's session cookie: what it holds, and when a request may use it.

The cookie holds a personal access token (``regd_…``), HttpOnly, SameSite=Strict, Secure
when the console is reached over TLS. A safe request (GET, HEAD) may use it anywhere. A
state change through it is taken on /api/ only, and only when the request comes from the
console itself: an ``Origin`` of this registry, and an ``X-CSRF-Token`` header derived
from the token (the page learns it from ``GET /ui/session``; another site can read neither
the cookie nor the token). On /v2/, a write never uses the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from aiohttp import web

from regd.http.keys import SETTINGS

COOKIE = "regd_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSiteRefused(Exception):
    """A state change through the session cookie that did not come from the console."""


def csrf_token(session: str) -> str:
    """The anti-forgery token of a session: known to whoever may read the session's pages."""
    return hashlib.sha256(b"regd-console-csrf\0" + session.encode()).hexdigest()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(request: web.Request) -> None:
    """CrossSiteRefused unless ``Origin`` is this registry (as reached, or its public URL)."""
    origin = request.headers.get("Origin", "").lower()
    if not origin or origin == "null":
        raise CrossSiteRefused("a state change from the console needs an Origin header")
    own = {f"{request.scheme}://{request.host}".lower()}
    public = request.app[SETTINGS].public_url
    if public:
        own.add(_origin(public))
    if origin not in own:
        raise CrossSiteRefused(f"cross-site request refused: origin {origin} is not this registry")


def check_csrf(request: web.Request, session: str) -> None:
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), csrf_token(session).encode()):
        raise CrossSiteRefused(f"missing or wrong {CSRF_HEADER} header")


def session_token(request: web.Request) -> str | None:
    """The token of the session cookie, when this request may act with it."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    if request.method in SAFE_METHODS:
        return value
    if not request.path.startswith("/api/"):
        return None
    check_csrf(request, value)
    return value


def secure(request: web.Request) -> bool:
    public = request.app[SETTINGS].public_url
    return request.secure or bool(public and public.lower().startswith("https:"))


def set_cookie(response: web.StreamResponse, request: web.Request, value: str, ttl: int) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=ttl,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=secure(request),
    )


def clear_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.del_cookie(COOKIE, path="/", samesite="Strict", secure=secure(request))
