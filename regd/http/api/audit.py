"""``GET /api/v1/audit``: the audit log, for registry admins."""

from __future__ import annotations

import time
from datetime import datetime

from aiohttp import web

from regd.durations import parse_duration
from regd.errors import ErrorKind, RequestError
from regd.http.api.auth import require_admin
from regd.http.api.routes import DENIED, ApiRoute
from regd.http.audit import AUDIT

PATH = "/api/v1/audit"
MAX_LIMIT = 10000


def parse_since(text: str) -> float:
    """``1h`` (that long ago), or an ISO 8601 time (``2026-12-03T10:00:00Z``)."""
    try:
        return time.time() - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(
            ErrorKind.INVALID, f"'since' is a duration (1h, 30m) or an ISO 8601 time, not {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise RequestError(ErrorKind.INVALID, "'since' needs a time zone (2026-12-03T10:00:00Z)")
    return moment.timestamp()


async def list_events(request: web.Request) -> web.Response:
    await require_admin(request)
    query = request.query
    try:
        limit = int(query.get("limit", "1000"))
    except ValueError:
        raise RequestError(ErrorKind.INVALID, "'limit' is a number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise RequestError(ErrorKind.INVALID, f"'limit' is between 1 and {MAX_LIMIT}")
    since = parse_since(query["since"]) if query.get("since") else None
    events = await request.app[AUDIT].events(
        since=since, principal=query.get("principal"), event=query.get("event"), limit=limit
    )
    return web.json_response([event.as_dict() for event in events])


_EVENT = {
    "type": "object",
    "properties": {
        "time": {"type": "string", "format": "date-time"},
        "event": {"type": "string"},
        "principal": {"type": "string"},
        "source": {"type": "string"},
        "request-id": {"type": "string"},
        "outcome": {"type": "string", "enum": ["success", "denied", "failure"]},
        "details": {"type": "object"},
    },
}

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        PATH,
        list_events,
        "The audit log, oldest first (registry admins)",
        "audit",
        {200: "the events", 400: "a bad query", **DENIED},
        response_schema={"type": "array", "items": _EVENT},
        query=(
            ("since", "a duration ago (1h) or an ISO 8601 time"),
            ("principal", "user:NAME, api-client:ID or anonymous"),
            ("event", "an event name, or a prefix ending in '.' (token.)"),
            ("limit", f"at most this many (default 1000, at most {MAX_LIMIT})"),
        ),
    ),
)
