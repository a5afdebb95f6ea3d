"""Reading and validating a management-API request body: once, the same way for every route.

Each route's ``request_schema`` (the one its OpenAPI document publishes) is compiled once,
when the route is first called (jsonschema is imported then, not at start-up);
:func:`regd.http.api.common.json_body` reads the body and checks it against that schema.
A body that is too large, not JSON, or not of the schema is refused — 413, or a 400
problem+json that names the field — before a handler sees it. Handlers read the body
after their authorization check, so a caller who may not call a route learns nothing
from a body error.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from regd.errors import ErrorKind, RequestError
from regd.http.api.routes import ApiRoute, Handler
from regd.http.limits import API_BODY, BodyTooLarge, read_at_most

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

#: The compiled schema of the route a request matched.
_VALIDATOR: Final = "regd.api.validator"


async def read_json(request: web.Request, limit: int = API_BODY) -> Any:
    """The parsed JSON body (``{}`` when empty); 413 past ``limit``, 400 when not JSON."""
    try:
        raw = await read_at_most(request, limit)
    except BodyTooLarge as error:
        raise RequestError(ErrorKind.TOO_LARGE, str(error)) from None
    try:
        return json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(ErrorKind.INVALID, f"the body is not valid JSON: {error}") from None
    except (ValueError, RecursionError):  # 5,000-digit integers; [[[[... nested too deep
        raise RequestError(
            ErrorKind.INVALID, "the body is not valid JSON: a number or nesting too large"
        ) from None


async def checked_body(request: web.Request) -> Any:
    """The body, read and checked against the schema of the route (if it has one)."""
    body = await read_json(request)
    validator: Draft202012Validator | None = request.get(_VALIDATOR)
    if validator is not None:
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            raise RequestError(ErrorKind.INVALID, _message(errors[0]))
    return body


def _where(error: ValidationError) -> str:
    """``policies[0]``, ``rules[1].capabilities[0]``; ``the body`` at the top."""
    where = ""
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "the body"


def _message(error: ValidationError) -> str:
    """One line about the deepest failure, naming its field."""
    best = error
    while best.context:
        best = min(best.context, key=lambda sub: len(sub.absolute_path))
    if best.validator == "required":  # "'password' is required", as a person says it
        missing = best.message.split(" is a required property")[0]
        where = _where(best)
        return (
            f"{missing} is required" if where == "the body" else f"{where}: {missing} is required"
        )
    message = best.message if len(best.message) <= 200 else best.message[:200] + "..."
    return f"{_where(best)}: {message}"


def validated(route: ApiRoute) -> Handler:
    """``route.handler``, its request carrying the compiled ``route.request_schema``."""
    schema = route.request_schema
    if schema is None:
        return route.handler
    handler = route.handler
    compiled: list[Draft202012Validator] = []

    async def with_schema(request: web.Request) -> web.StreamResponse:
        if not compiled:
            from jsonschema import Draft202012Validator

            Draft202012Validator.check_schema(schema)
            compiled.append(Draft202012Validator(schema))
        request[_VALIDATOR] = compiled[0]
        return await handler(request)

    return with_schema
