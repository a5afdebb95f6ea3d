"""A management-API route: the aiohttp route plus what OpenAPI says of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    #: status -> description; the response schema (if any) goes with the first 2xx.
    responses: dict[int, str] = field(default_factory=dict)
    response_schema: dict[str, Any] | None = None
    request_schema: dict[str, Any] | None = None
    query: tuple[tuple[str, str], ...] = ()


#: The answers every authenticated route may give.
DENIED: dict[int, str] = {401: "authentication required", 403: "not allowed"}

#: ``[{"capabilities": [...], "repositories": [glob, ...]}]``: policy rules, API client grants.
GRANTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "capabilities": {"type": "array", "items": {"type": "string"}},
            "repositories": {"type": "array", "items": {"type": "string"}},
        },
    },
}
