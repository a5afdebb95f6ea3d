"""Talking to regd's management API over HTTP, and turning failures into exit codes.

httpx is imported when the first request is made, never at startup.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from regctl import __version__
from regctl.config import Credentials, Target
from regctl.errors import NotFound, ServerError, Unauthorized, Unreachable, UsageError
from regctl.options import debug
from regctl.paths import API

if TYPE_CHECKING:
    import httpx

#: Seconds to wait for a connection, and for anything at all.
CONNECT_TIMEOUT = 5.0
TIMEOUT = 60.0


def _authorization(credentials: Credentials | None) -> dict[str, str]:
    if credentials is None:
        return {}
    if credentials.token:
        return {"Authorization": f"Bearer {credentials.token}"}
    if credentials.username and credentials.password is not None:
        import base64

        pair = f"{credentials.username}:{credentials.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return {}


def problem_message(response: httpx.Response) -> str:
    """``404 Not Found: <detail>`` from an ``application/problem+json`` body, or the text."""
    status = f"{response.status_code} {response.reason_phrase}".strip()
    detail = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = str(body.get("detail") or body.get("title") or "")
        errors = body.get("errors")
        if not detail and isinstance(errors, list) and errors and isinstance(errors[0], dict):
            # the OCI /v2/ error body, and supctl's
            first = errors[0]
            detail = str(first.get("message") or first.get("error-message") or "")
    elif response.text.strip():
        detail = response.text.strip().splitlines()[0][:200]
    return f"{status}: {detail}" if detail else status


class Api:
    """One server, one set of credentials; raises a ``RegctlError`` on any failure."""

    def __init__(self, target: Target) -> None:
        import httpx

        self.target = target
        self._client = httpx.Client(
            base_url=target.server,
            timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
            headers={
                "User-Agent": f"regctl/{__version__}",
                "Accept": "application/json, application/problem+json",
                **_authorization(target.credentials),
            },
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._client.close()

    def send(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> httpx.Response:
        """Send a request to ``path`` (absolute, e.g. ``/v2/``); any answer is returned."""
        import httpx

        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if content is not None else {}
        request = self._client.build_request(method, path, content=content, headers=headers)
        size = f" ({content_type}, {len(content)} bytes)" if content is not None else ""
        debug(f"> {method} {request.url}{size}")
        started = time.monotonic()
        try:
            response = self._client.send(request)
        except httpx.UnsupportedProtocol as error:
            raise UsageError(f"invalid server URL {self.target.server!r}: {error}") from error
        except httpx.TransportError as error:
            reason = str(error) or type(error).__name__
            raise Unreachable(
                f"cannot reach regd at {self.target.server}: {reason}",
                hint=f"is 'regd serve' running? tried {request.url}",
            ) from error
        elapsed = (time.monotonic() - started) * 1000
        debug(
            f"< {response.status_code} {response.reason_phrase} "
            f"({len(response.content)} bytes, {elapsed:.0f} ms)"
        )
        return response

    def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        """A management-API call: the decoded JSON answer, or None when there is no body."""
        response = self.send(method, API + path, body, content_type)
        check(response, self.target)
        if not response.content:
            return None
        if "json" in response.headers.get("Content-Type", ""):
            try:
                return response.json()
            except ValueError:
                raise ServerError(
                    f"{method} {path}: the server answered invalid JSON "
                    f"({response.status_code} {response.reason_phrase})"
                ) from None
        return response.text


def check(response: httpx.Response, target: Target) -> None:
    """Raise the ``RegctlError`` a non-2xx answer maps to."""
    if response.is_success:
        return
    message = problem_message(response)
    if response.status_code == 404:
        raise NotFound(message)
    if response.status_code in (401, 403):
        if target.credentials is None:
            hint = f"log in first: regctl login {target.server} --username NAME"
        elif target.credentials.token:
            hint = "the token (REGCTL_TOKEN or a stored login) was refused or lacks the right"
        else:
            hint = f"user {target.credentials.username!r} was refused or lacks the right"
        raise Unauthorized(message, hint=hint)
    raise ServerError(message)
