"""Talking to an upstream registry: anonymous, Basic, or the Bearer token flow.

Credentials come from the Strongbox secret the remote's ``credentials`` name; tokens are
cached per (remote, scope, credential) until they expire.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from regd import bodies
from regd.caching import Cache
from regd.metrics import Metrics
from regd.remotes.config import Credential, RemoteRegistry
from regd.strongbox.vaults import StrongboxError, Vaults

log = logging.getLogger(__name__)

MANIFEST_ACCEPT: Final = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
_TIMEOUT: Final = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10, sock_read=60)
_CHALLENGE_PARAM: Final = re.compile(r'(\w+)="([^"]*)"')
#: TLS contexts (one per remote and CA certificate) and upstream tokens kept at most.
_TLS_CONTEXTS: Final = 256
_TOKENS: Final = 4096


#: The most of an upstream's token response read into memory.
MAX_TOKEN_RESPONSE: Final = 64 * 1024


async def read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """An upstream response's body, refused (BodyTooLarge, a ValueError) past ``limit``
    bytes: a compromised or broken upstream cannot make regd hold more than that."""
    return await bodies.read_at_most(response.content, response.content_length, limit)


class UpstreamError(Exception):
    """The upstream could not answer: ``retryable`` failures fall back to the cache."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500

    @property
    def auth_failed(self) -> bool:
        return self.status in (401, 403)


@dataclass(frozen=True, slots=True)
class _Secret:
    username: str | None
    password: str | None
    token: str | None


class Upstream:
    def __init__(self, vaults: Vaults, metrics: Metrics | None = None) -> None:
        self._vaults = vaults
        self._metrics = metrics
        self._session: aiohttp.ClientSession | None = None
        # By (remote, its ca-cert): a remote whose ca-cert changed gets a new context.
        self._ssl: Cache[tuple[str, str], ssl.SSLContext] = Cache(_TLS_CONTEXTS)
        self._tokens: Cache[tuple[str, str, str], str] = Cache(_TOKENS)
        #: Remotes that challenged with Basic: later requests send it at once, rather than
        #: being refused first (which doubled every upstream request).
        self._basic: set[str] = set()
        self.requests = 0  # upstream requests made (for /metrics and tests)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT, auto_decompress=False)
        return self._session

    def _ssl_for(self, remote: RemoteRegistry) -> ssl.SSLContext | bool:
        if not remote.ca_cert:
            return True
        key = (remote.address, remote.ca_cert)
        context = self._ssl.get(key)
        if context is None:
            context = ssl.create_default_context(cadata=remote.ca_cert)
            self._ssl.put(key, context)
        return context

    async def _secret(self, credential: Credential | None) -> _Secret | None:
        if credential is None:
            return None
        try:
            values = await self._vaults.values(credential.vault, credential.secret)
        except StrongboxError as missing:
            raise UpstreamError(f"credentials unavailable: {missing.message}", 401) from None
        return _Secret(values.get("username"), values.get("password"), values.get("token"))

    async def get(
        self,
        remote: RemoteRegistry,
        upstream_path: str,
        path: str,
        method: str = "GET",
        accept: str | None = None,
    ) -> aiohttp.ClientResponse:
        """A 2xx response (the caller reads and releases it), else UpstreamError."""
        credential = remote.credential_for(upstream_path)
        secret = await self._secret(credential)
        scope = f"repository:{upstream_path}:pull"
        key = (
            remote.address,
            scope,
            f"{credential.vault}/{credential.secret}" if credential else "",
        )
        headers = {"Accept": accept} if accept else {}
        cached = self._tokens.get(key)
        if cached is not None:
            headers["Authorization"] = f"Bearer {cached}"
        elif secret is not None and secret.token and not secret.password:
            headers["Authorization"] = f"Bearer {secret.token}"
        elif remote.address in self._basic and (basic := _basic(secret)) is not None:
            headers["Authorization"] = basic
        response = await self._send(remote, method, path, headers)
        if response.status == 401:
            challenge = response.headers.get("WWW-Authenticate", "")
            response.release()
            headers["Authorization"] = await self._authorize(remote, challenge, scope, secret, key)
            response = await self._send(remote, method, path, headers)
        if response.status < 300:
            return response
        status = response.status
        retry_after = response.headers.get("Retry-After")
        response.release()
        if status in (401, 403):
            raise UpstreamError(
                f"{remote.address} refused the credentials for {upstream_path}", status
            )
        raise UpstreamError(f"{remote.address} answered {status} for {path}", status, retry_after)

    async def _send(
        self, remote: RemoteRegistry, method: str, path: str, headers: dict[str, str]
    ) -> aiohttp.ClientResponse:
        self.requests += 1
        try:
            response = await self._client().request(
                method,
                remote.base_url + path,
                headers=headers,
                ssl=self._ssl_for(remote),
                allow_redirects=True,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            self._answered(remote, None)
            raise UpstreamError(
                f"{remote.address} is unreachable: {type(error).__name__}"
            ) from None
        self._answered(remote, response.status)
        return response

    def _answered(self, remote: RemoteRegistry, status: int | None) -> None:
        if self._metrics is not None:
            self._metrics.upstream_answered(remote.name, status)

    async def _authorize(
        self,
        remote: RemoteRegistry,
        challenge: str,
        scope: str,
        secret: _Secret | None,
        key: tuple[str, str, str],
    ) -> str:
        """The ``Authorization`` that answers an upstream's 401 challenge."""
        scheme = challenge.split(" ", 1)[0].lower()
        basic = _basic(secret)
        if scheme == "basic":
            if basic is None:
                raise UpstreamError(
                    f"{remote.address} requires credentials and none are configured", 401
                )
            self._basic.add(remote.address)
            return basic
        if scheme != "bearer":
            raise UpstreamError(f"{remote.address} sent an unsupported challenge {scheme!r}", 401)
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.get("realm")
        if not realm:
            raise UpstreamError(f"{remote.address} sent a Bearer challenge without realm", 401)
        query = {"scope": params.get("scope", scope)}
        if params.get("service"):
            query["service"] = params["service"]
        body = await self._token_response(remote, realm, query, basic)
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise UpstreamError(f"{remote.address} token service sent no token", 502)
        lifetime = body.get("expires_in", 60)
        lifetime = lifetime if isinstance(lifetime, int) and lifetime > 0 else 60
        self._tokens.put(key, token, expires_in=max(lifetime - 10, 5))
        return f"Bearer {token}"

    async def _token_response(
        self, remote: RemoteRegistry, realm: str, query: dict[str, str], basic: str | None
    ) -> Any:
        """The upstream token service's JSON answer (Basic credentials sent when given)."""
        token_headers = {"Authorization": basic} if basic else {}
        self.requests += 1
        answered = False
        try:
            async with self._client().get(
                realm, params=query, headers=token_headers, ssl=self._ssl_for(remote)
            ) as response:
                answered = True
                self._answered(remote, response.status)
                if response.status in (401, 403):
                    raise UpstreamError(
                        f"{remote.address} refused the configured credentials", response.status
                    )
                if response.status >= 300:
                    raise UpstreamError(
                        f"{remote.address} token service answered {response.status}",
                        response.status,
                    )
                body = json.loads(await read_at_most(response, MAX_TOKEN_RESPONSE))
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, RecursionError) as error:
            if not answered:
                self._answered(remote, None)
            raise UpstreamError(
                f"{remote.address} token service failed: {type(error).__name__}"
            ) from None
        return body


def _basic(secret: _Secret | None) -> str | None:
    """The Basic ``Authorization`` of a secret with a user name and a password or token."""
    if secret is None or secret.username is None or not (secret.password or secret.token):
        return None
    pair = f"{secret.username}:{secret.password or secret.token}"
    return "Basic " + base64.b64encode(pair.encode()).decode()
