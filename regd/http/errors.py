"""Turning failures into responses: OCI error JSON on /v2/, never a traceback."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from regd.registry.errors import ErrorCode, RegistryError

log = logging.getLogger(__name__)


def error_response(error: RegistryError) -> web.Response:
    return web.Response(
        status=error.code.status,
        body=json.dumps(error.body()).encode(),
        content_type="application/json",
        headers=error.headers,
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as error:
        return error_response(error)
    except web.HTTPException as http_error:
        if not request.path.startswith("/v2/") or http_error.status < 400:
            raise
        code = {404: ErrorCode.NAME_UNKNOWN, 405: ErrorCode.UNSUPPORTED}.get(http_error.status)
        if code is None:
            raise
        return error_response(RegistryError(code, http_error.reason))
    except (ConnectionResetError, OSError) as error:
        if request.transport is None or request.transport.is_closing():
            log.info("%s %s: client went away: %s", request.method, request.path, error)
            raise
        log.exception("%s %s failed", request.method, request.path)
        return error_response(RegistryError(ErrorCode.UNAVAILABLE, "internal error"))
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(RegistryError(ErrorCode.UNAVAILABLE, "internal error"))
