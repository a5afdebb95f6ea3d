"""Reading credentials off a request: Basic, Bearer registry token, Bearer opaque token."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from regd.auth.principals import ANONYMOUS, Principal
from regd.auth.tokens import looks_like_token
from regd.http.keys import ACCESS, SETTINGS
from regd.http.session import session_token


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who the request says it is, once checked; ``claims`` when it carried a registry JWT."""

    principal: Principal
    scheme: str  # "none" | "basic" | "bearer-jwt" | "bearer-token" | "cookie"
    claims: dict[str, Any] | None = None


class BadCredentials(Exception):
    """Credentials were sent but are wrong, expired or revoked."""


def parse_basic(header: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode()
    except (IndexError, binascii.Error, UnicodeDecodeError):
        return None
    username, sep, secret = decoded.partition(":")
    return (username, secret) if sep else None


def source_of(request: web.Request) -> str:
    return request.remote or "unknown"


async def authenticate(request: web.Request) -> Credentials:
    """Check the Authorization header, else the console's session cookie; BadCredentials
    when present but invalid (CrossSiteRefused for a forged state change via the cookie)."""
    header = request.headers.get("Authorization", "")
    access = request.app[ACCESS]
    if not header:
        session = session_token(request)
        if session is None:
            return Credentials(ANONYMOUS, "none")
        found = await access.principal_of_token(session, ("personal",))
        if found is None:
            raise BadCredentials("the console session has ended: sign in again")
        return Credentials(found, "cookie")
    scheme = header.split(" ", 1)[0].lower()
    if scheme == "basic":
        pair = parse_basic(header)
        if pair is None:
            raise BadCredentials("malformed Basic credentials")
        found = await access.authenticate_basic(pair[0], pair[1], source_of(request))
        if found is None:
            raise BadCredentials("invalid username or password")
        return Credentials(found, "basic")
    if scheme == "bearer":
        token = header.split(" ", 1)[1].strip() if " " in header else ""
        if looks_like_token(token):
            principal = await access.principal_of_token(token)
            if principal is None:
                raise BadCredentials("invalid, expired or revoked token")
            return Credentials(principal, "bearer-token")
        verified = await access.verify_jwt(token)
        if verified is None:
            raise BadCredentials("invalid or expired registry token")
        return Credentials(verified[0], "bearer-jwt", verified[1])
    # Not the scheme itself: a client that sends a bare token would see it echoed.
    raise BadCredentials("unsupported authorization scheme: use Basic or Bearer")


def public_url(request: web.Request) -> str:
    configured = request.app[SETTINGS].public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


def challenge(request: web.Request, scope: str | None, error: str | None = None) -> str:
    """The ``WWW-Authenticate`` value pointing clients at the token service."""
    settings = request.app[SETTINGS]
    parts = [f'realm="{public_url(request)}/token"', f'service="{settings.service}"']
    if scope:
        parts.append(f'scope="{scope}"')
    if error:
        parts.append(f'error="{error}"')
    return "Bearer " + ",".join(parts)
