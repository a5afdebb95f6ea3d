"""Talking to regd's management API over HTTP, and turning failures into exit codes.

httpx is imported when the first request is made, never at startup.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

from regctl import __version__
from regctl.credential_stores import IDENTITY_TOKEN_USER, Credentials
from regctl.errors import NotFound, ServerError, Unauthorized, Unreachable, UsageError
from regctl.paths import API
from regctl.runtime import debug
from regctl.target import Target

if TYPE_CHECKING:
    import httpx

# ``import httpx`` also loads httpx's own command line (click, rich, pygments: ~100 ms)
# unless that import fails, which httpx handles; regctl never runs it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

#: Seconds to wait for a connection, and for anything at all.
CONNECT_TIMEOUT = 5.0
TIMEOUT = 60.0


def _authorization(credentials: Credentials | None) -> dict[str, str]:
    if credentials is None:
        return {}
    if credentials.token:
        return {"Authorization": f"Bearer {credentials.token}"}
    if credentials.username == IDENTITY_TOKEN_USER:
        return {}  # exchanged for a registry token on the first request (see Api)
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
            verify=_verify(),
            timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
            headers={
                "User-Agent": f"regctl/{__version__}",
                "Accept": "application/json, application/problem+json",
                **_authorization(target.credentials),
            },
        )

        credentials = target.credentials
        if credentials is not None and credentials.username == IDENTITY_TOKEN_USER:
            self._client.headers["Authorization"] = "Bearer " + self._exchange(
                credentials.password or ""
            )

    def _exchange(self, refresh_token: str) -> str:
        """An identity (refresh) token, as ``docker login`` keeps it, for a registry token."""
        response = self.send(
            "POST",
            "/token",
            form={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": "regctl",
            },
        )
        check(response, self.target)
        token = response.json().get("access_token")
        if not isinstance(token, str):
            raise ServerError(f"{self.target.server}/token answered no access_token")
        return token

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._client.close()

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request to ``path`` (absolute, e.g. ``/v2/``); any answer is returned.

        ``body`` goes as JSON, ``form`` as ``application/x-www-form-urlencoded``.
        """
        import httpx

        extra = dict(headers or {})
        if form is not None:
            from urllib.parse import urlencode

            content: bytes | None = urlencode(form).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            content = None if body is None else json.dumps(body).encode()
        if content is not None:
            extra["Content-Type"] = content_type
        request = self._client.build_request(method, path, content=content, headers=extra)
        size = f" ({content_type}, {len(content)} bytes)" if content is not None else ""
        debug(f"> {method} {request.url}{size}")
        started = time.monotonic()
        try:
            response = self._client.send(request)
        except httpx.UnsupportedProtocol as error:
            raise UsageError(f"invalid server URL {self.target.server!r}: {error}") from error
        except httpx.TransportError as error:
            reason = str(error) or type(error).__name__
            _tls_failure(request.url, reason)
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

    def whoami(self) -> str:
        """Who the credentials are: a user name, or an API client's id.

        The caller's own tokens name their principal; a caller without any gets a
        one-minute token minted (which says who it is for) and revoked at once.
        """
        tokens = self.call("GET", "/tokens")
        if isinstance(tokens, list) and tokens and isinstance(tokens[0], dict):
            return principal_name(str(tokens[0].get("principal", "")))
        minted = self.call("POST", "/token", {"ttl": "1m", "name": "regctl whoami"})
        self.call("DELETE", f"/tokens/{minted['id']}")
        return principal_name(str(minted.get("principal", "")))

    def create_token(
        self,
        name: str,
        ttl: str | None,
        policies: list[str] | None = None,
        personal: bool = True,
        for_client: str | None = None,
    ) -> dict[str, Any]:
        """A new personal access token (``/tokens``; ``for_client``: an API client's) or
        short-lived one (``/token``)."""
        body: dict[str, Any] = {"name": name}
        if for_client is not None:
            body["for"] = for_client
        if ttl is not None:
            body["ttl"] = ttl
        if policies is not None:
            body["policies"] = policies
        created = self.call("POST", "/tokens" if personal else "/token", body)
        if not isinstance(created, dict) or not isinstance(created.get("token"), str):
            raise ServerError(f"{self.target.server} answered no token")
        return created


def _verify() -> Any:
    """httpx's ``verify``: the system's CAs, plus ``--ca-cert``/``REGCTL_CA_CERT`` if given."""
    from regctl.runtime import GLOBAL, env

    ca_cert = GLOBAL.ca_cert or env("REGCTL_CA_CERT")
    if ca_cert is None:
        return True
    import ssl

    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_cert)
    except (OSError, ssl.SSLError) as error:
        raise UsageError(
            f"--ca-cert/REGCTL_CA_CERT: cannot read a CA from {ca_cert}: {error}"
        ) from None
    return context


#: What OpenSSL says when an HTTPS client gets a plain-HTTP answer.
_PLAIN_HTTP = ("WRONG_VERSION_NUMBER", "record layer failure", "http request", "packet length")


def _tls_failure(url: httpx.URL, reason: str) -> None:
    """Raise what a failed TLS handshake means, if that is what ``reason`` is."""
    if url.scheme != "https":
        return
    server = f"{url.host}:{url.port}" if url.port else url.host
    if any(marker.lower() in reason.lower() for marker in _PLAIN_HTTP):
        raise Unreachable(
            f"{server} speaks plain HTTP, not HTTPS: {reason}",
            hint=f"use http://{server}, or serve HTTPS (regd serve --tls-cert FILE --tls-key FILE)",
        )
    if "CERTIFICATE_VERIFY_FAILED" in reason:
        raise Unreachable(
            f"{server}'s certificate is not trusted: {reason}",
            hint="trust its CA with --ca-cert FILE or REGCTL_CA_CERT=FILE "
            "(regd tls self-signed wrote ca.crt), or install it in the system store",
        )


def principal_name(reference: str) -> str:
    """``user:alice`` -> ``alice``; ``api-client:cli-ab12c`` -> ``cli-ab12c``."""
    kind, separator, name = reference.partition(":")
    return name if separator and kind in ("user", "api-client") else reference


def check(response: httpx.Response, target: Target) -> None:
    """Raise the ``RegctlError`` a non-2xx answer maps to."""
    if response.is_success:
        return
    message = problem_message(response)
    if response.status_code == 404:
        raise NotFound(message)
    if response.status_code in (401, 403):
        raise Unauthorized(message, hint=refusal_hint(response.status_code, target))
    raise ServerError(message)


def refusal_hint(status: int, target: Target) -> str:
    """What to do about a 401 (the credentials were refused) or a 403 (they lack a right)."""
    credentials = target.credentials
    if credentials is None:
        return f"log in first: regctl login {target.server} --username NAME"
    if target.source == "REGCTL_TOKEN":
        who = "the token in REGCTL_TOKEN"
    elif target.source == "REGCTL_USERNAME":
        who = f"user {credentials.username!r} (REGCTL_USERNAME)"
    else:
        who = f"the stored login of context {target.context!r}"
    if status == 403:
        return f"{who} lacks the right to do this"
    if target.source == "stored":
        return f"{who} was refused (expired or revoked?): regctl login {target.server}"
    return f"{who} was refused"
