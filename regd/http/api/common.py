"""Request bodies, principal references and timestamps for the management API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from regd.errors import ErrorKind, RequestError
from regd.http.api.validation import checked_body
from regd.http.keys import ACCESS

PRINCIPAL_KINDS = ("user", "api-client")


async def json_body(request: web.Request) -> dict[str, Any]:
    """The body: a JSON object of the route's schema (:mod:`regd.http.api.validation`)."""
    body = await checked_body(request)
    if not isinstance(body, dict):
        raise RequestError(ErrorKind.INVALID, "the body must be a JSON object")
    return body


async def check_policies(request: web.Request, names: list[str] | None) -> None:
    """400 when a body names a policy that does not exist (before anything is stored)."""
    if not names:
        return
    known = {policy.name for policy in await request.app[ACCESS].grants.policies()}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise RequestError(ErrorKind.INVALID, f"unknown policies: {', '.join(map(str, unknown))}")


def field(
    body: dict[str, Any], name: str, kind: type, default: Any = ..., required: bool = False
) -> Any:
    value = body.get(name, default)
    if value is ... or (required and value is None):
        raise RequestError(ErrorKind.INVALID, f"{name!r} is required")
    if value is not None and value is not default and not isinstance(value, kind):
        raise RequestError(ErrorKind.INVALID, f"{name!r} must be a {kind.__name__}")
    return value


def parse_principal(reference: str, allow_public: bool = False) -> tuple[str, str]:
    """``user:alice`` / ``api-client:cli-ab12c`` (/ ``public``) -> (kind, id)."""
    if allow_public and reference == "public":
        return "public", ""
    kind, sep, principal_id = reference.partition(":")
    if not sep or kind not in PRINCIPAL_KINDS or not principal_id:
        expected = "user:NAME, api-client:ID" + (" or public" if allow_public else "")
        raise RequestError(
            ErrorKind.INVALID, f"invalid principal {reference!r}: expected {expected}"
        )
    return kind, principal_id


def principal_ref(kind: str, principal_id: str) -> str:
    return "public" if kind == "public" else f"{kind}:{principal_id}"


def timestamp(unix: float | None) -> str | None:
    if unix is None:
        return None
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
