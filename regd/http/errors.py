"""Turning failures into responses, never with a traceback.

``/v2/`` answers with the OCI error body; ``/api/`` with RFC 9457 ``application/problem+json``.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler

from regd.errors import RequestError
from regd.registry.errors import ErrorCode, RegistryError
from regd.storage.errors import StorageUnavailable
from regd.strongbox.crypto import MasterKeyError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def oci_error(error: RegistryError) -> web.Response:
    return web.Response(
        status=error.code.status,
        body=json.dumps(error.body()).encode(),
        content_type="application/json",
        headers=error.headers,
    )


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type=PROBLEM_JSON, headers=headers
    )


class Problem(Exception):
    """An /api/ failure with its status and a one-line detail."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def _render(request: web.Request, error: RegistryError) -> web.Response:
    if request.path.startswith("/api/"):
        return problem(error.code.status, _problem_detail(error))
    return oci_error(error)


def _problem_detail(error: RegistryError) -> str:
    if isinstance(error.detail, dict) and error.detail:
        subject = ", ".join(f"{key} {value!r}" for key, value in error.detail.items())
        return f"{error.message}: {subject}"
    return error.message


_HTTP_CODES = {404: ErrorCode.NAME_UNKNOWN, 405: ErrorCode.UNSUPPORTED}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as error:
        return _render(request, error)
    except Problem as error:
        return problem(error.status, error.detail, error.headers)
    except RequestError as error:
        return problem(error.status, error.message)
    except StorageUnavailable as error:
        # The object store failed: nothing half-stored became visible; the client may retry.
        log.warning("%s %s: %s", request.method, request.path, error)
        return _render(
            request, RegistryError(ErrorCode.UNAVAILABLE, "blob storage is unavailable: try again")
        )
    except MasterKeyError as error:
        log.error("strongbox: %s", error)
        return problem(503, "secrets cannot be decrypted: the master key is unavailable")
    except web.HTTPException as http_error:
        if http_error.status < 400:
            raise
        if request.path.startswith("/api/"):
            return problem(http_error.status, http_error.reason)
        code = _HTTP_CODES.get(http_error.status)
        if code is None or not request.path.startswith("/v2/"):
            raise
        return oci_error(RegistryError(code, http_error.reason))
    except OSError as error:
        if request.transport is None or request.transport.is_closing():
            # Nobody is left to answer; whatever was staged stays invisible.
            log.info("%s %s: client went away: %s", request.method, request.path, error)
            return _render(request, RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, "incomplete body"))
        log.exception("%s %s failed", request.method, request.path)
        return _render(request, RegistryError(ErrorCode.UNAVAILABLE, "internal error"))
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return _render(request, RegistryError(ErrorCode.UNAVAILABLE, "internal error"))
