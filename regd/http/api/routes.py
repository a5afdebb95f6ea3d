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

#: What the middlewares answer on any /api/v1 route, whatever its handler does
#: (``api_auth_middleware``, ``error_middleware``): the OpenAPI document adds these to
#: every operation, so it says what regd answers.
EVERY_ROUTE: dict[int, str] = {
    401: "authentication required",
    500: "internal error (the body names a request id, also in regd's log)",
    503: "the database or storage is unavailable (retry later)",
    507: "disk full",
}
#: What routes with path parameters answer for a malformed or unknown one.
WITH_PATH_PARAMETERS: dict[int, str] = {
    400: "a path parameter is malformed (a repository name, tag or principal)",
    404: "not found",
}
#: What reading a JSON body answers (:mod:`regd.http.api.validation`), on routes with one.
WITH_BODY: dict[int, str] = {
    400: "the body is not JSON, or not of the schema (the detail names the field)",
    413: "the body is too large",
}

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
