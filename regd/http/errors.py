"""Turning failures into responses, never with a traceback.

``/v2/`` answers with the OCI error body; ``/api/`` with RFC 9457 ``application/problem+json``.
A management refusal (:class:`regd.errors.RequestError`) carries an :class:`ErrorKind`;
:data:`STATUS` here is the one place that says which HTTP status each kind answers.
"""

from __future__ import annotations

import errno
import json
import logging
import traceback
import uuid
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import exc as sa_exc

from regd.errors import ErrorKind, RequestError
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


#: The HTTP status of each kind of management refusal: the only such table.
STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNAVAILABLE: 503,
}


class Unauthenticated(RequestError):
    """401 on /api/: no, bad or unfit credentials, with the challenge to answer it."""

    def __init__(self, message: str, challenge: dict[str, str]) -> None:
        super().__init__(ErrorKind.UNAUTHORIZED, message)
        self.challenge = challenge


def refusal(error: RequestError) -> web.Response:
    """A management refusal as problem+json, with the status of its kind."""
    headers = error.challenge if isinstance(error, Unauthenticated) else None
    return problem(STATUS[error.kind], error.message, headers)


def _render(request: web.Request, error: RegistryError) -> web.Response:
    if request.path.startswith("/api/"):
        return problem(error.code.status, _problem_detail(error))
    return oci_error(error)


def _problem_detail(error: RegistryError) -> str:
    if isinstance(error.detail, dict) and error.detail:
        subject = ", ".join(f"{key} {value!r}" for key, value in error.detail.items())
        return f"{error.message}: {subject}"
    return error.message


_HTTP_CODES = {
    404: ErrorCode.NAME_UNKNOWN,
    405: ErrorCode.UNSUPPORTED,
    413: ErrorCode.MANIFEST_TOO_LARGE,
}
#: ENOSPC and EDQUOT: the data file system (or the user's quota on it) is full.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
#: Database errors that are bugs or bad data, not an outage (the rest of DBAPIError is:
#: refused or lost connections, a database not accepting connections, I/O errors).
_DATABASE_BUGS = (
    sa_exc.IntegrityError,
    sa_exc.ProgrammingError,
    sa_exc.DataError,
    sa_exc.NotSupportedError,
)


def _database_down(error: Exception) -> str | None:
    """The driver's one-line reason when ``error`` is a database outage, else None."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free
        return "timed out waiting for a connection"
    if isinstance(error, sa_exc.DBAPIError) and not isinstance(error, _DATABASE_BUGS):
        # The driver's message, not the statement and its parameters (they may hold secrets).
        return str(error.orig).splitlines()[0][:200] if error.orig else type(error).__name__
    return None


def request_id() -> str:
    """A short id that ties a client's error body to the one log line about it."""
    return uuid.uuid4().hex[:16]


def _where(error: BaseException) -> str:
    """``file.py:123`` of the innermost frame: enough to find a bug from one log line."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"


def _failure(request: web.Request, code: ErrorCode, message: str, rid: str) -> web.Response:
    """A 5xx that names its request id in the body and in ``X-Request-Id``."""
    headers = {"X-Request-Id": rid}
    if request.path.startswith("/api/"):
        response = problem(code.status, f"{message} (request id {rid})", headers)
    else:
        response = oci_error(
            RegistryError(code, message, detail={"request-id": rid}, headers=headers)
        )
    return response


def _http_error(request: web.Request, http_error: web.HTTPException) -> web.StreamResponse:
    """aiohttp's own refusals (no route, wrong method, body too large) in our formats,
    keeping their headers (``Allow`` on a 405)."""
    headers = {key: value for key, value in http_error.headers.items() if key == "Allow"}
    detail = http_error.reason
    if http_error.status == 413:
        detail = http_error.text or detail
    if request.path.startswith("/api/"):
        return problem(http_error.status, detail, headers)
    code = _HTTP_CODES.get(http_error.status)
    if code is None:
        raise http_error
    return oci_error(RegistryError(code, detail, headers=headers))


def _os_error(request: web.Request, error: OSError) -> web.StreamResponse:
    rid = request_id()
    where = f"{request.method} {request.path}"
    if error.errno in _DISK_FULL:
        log.error("%s: disk full [request %s]: %s", where, rid, error.strerror or error)
        return _failure(request, ErrorCode.DISK_FULL, ErrorCode.DISK_FULL.message, rid)
    if request.transport is None or request.transport.is_closing():
        # Nobody is left to answer; whatever was staged stays invisible.
        log.info("%s: client went away: %s", where, error)
        return _render(request, RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, "incomplete body"))
    log.error("%s: I/O failed [request %s]: %r at %s", where, rid, error, _where(error))
    return _failure(request, ErrorCode.UNAVAILABLE, "storage or database unavailable", rid)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as error:
        return _render(request, error)
    except RequestError as error:
        return refusal(error)
    except StorageUnavailable as error:
        # The object store failed: nothing half-stored became visible; the client may retry.
        log.warning("%s %s: %s", request.method, request.path, error)
        return _render(
            request, RegistryError(ErrorCode.UNAVAILABLE, "blob storage is unavailable: try again")
        )
    except MasterKeyError as error:
        log.error("strongbox: %s", error)
        return refusal(
            RequestError(
                ErrorKind.UNAVAILABLE, "secrets cannot be decrypted: the master key is unavailable"
            )
        )
    except web.HTTPException as http_error:
        if http_error.status < 400:
            raise
        return _http_error(request, http_error)
    except OSError as error:
        return _os_error(request, error)
    except Exception as error:
        rid = request_id()
        reason = _database_down(error)
        if reason is not None:
            log.error(
                "%s %s: database unavailable [request %s]: %s",
                request.method,
                request.path,
                rid,
                reason,
            )
            return _failure(request, ErrorCode.UNAVAILABLE, "database unavailable", rid)
        log.error(
            "%s %s: internal error [request %s]: %r at %s",
            request.method,
            request.path,
            rid,
            error,
            _where(error),
        )
        return _failure(request, ErrorCode.INTERNAL, "internal error", rid)
