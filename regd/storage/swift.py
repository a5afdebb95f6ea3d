"""The OpenStack Swift backend of :class:`~regd.storage.objects.ObjectStore`.

Authentication goes through python-swiftclient (``get_auth``: v1 auth, and Keystone v3
through keystoneauth1) in a worker thread, from the environment the ``swift`` command
line reads:

- Keystone v3: ``OS_AUTH_URL`` with ``OS_USERNAME``/``OS_PASSWORD`` (and
  ``OS_PROJECT_NAME``/``OS_PROJECT_ID``, ``OS_USER_DOMAIN_NAME``/``OS_USER_DOMAIN_ID``,
  ``OS_PROJECT_DOMAIN_NAME``/``OS_PROJECT_DOMAIN_ID``) or
  ``OS_APPLICATION_CREDENTIAL_ID``/``OS_APPLICATION_CREDENTIAL_SECRET``; ``OS_REGION_NAME``,
  ``OS_INTERFACE`` pick the endpoint;
- v1: ``ST_AUTH``, ``ST_USER``, ``ST_KEY``.

The data path is aiohttp with the token (no thread per request; streamed both ways). A
401 re-authenticates once. Every request is bounded (``timeout=`` of the storage URL):
one that sends or answers a bounded body (an object up to one part, a manifest, a
listing page) by its total time, a streamed GET by the longest wait for its next bytes;
connecting by :data:`~regd.storage.url.CONNECT_TIMEOUT`. Authentication has the same
bound. A request over its bound is :class:`StorageUnavailable`.

Committed blobs are static large objects over the upload's segments (no copy); deleting
one with ``multipart-manifest=delete`` removes its segments.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from regd.storage.errors import StorageConfigError, StorageUnavailable
from regd.storage.url import CONNECT_TIMEOUT, StorageLocation

READ_CHUNK = 1 << 20


def auth_arguments(environ: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The auth URL and swiftclient ``get_auth`` keyword arguments, from the environment."""
    if environ.get("OS_AUTH_URL"):
        options = {
            "project_name": environ.get("OS_PROJECT_NAME") or environ.get("OS_TENANT_NAME"),
            "project_id": environ.get("OS_PROJECT_ID") or environ.get("OS_TENANT_ID"),
            "user_domain_name": environ.get("OS_USER_DOMAIN_NAME"),
            "user_domain_id": environ.get("OS_USER_DOMAIN_ID"),
            "project_domain_name": environ.get("OS_PROJECT_DOMAIN_NAME"),
            "project_domain_id": environ.get("OS_PROJECT_DOMAIN_ID"),
            "region_name": environ.get("OS_REGION_NAME"),
            "endpoint_type": environ.get("OS_INTERFACE") or environ.get("OS_ENDPOINT_TYPE"),
        }
        if environ.get("OS_APPLICATION_CREDENTIAL_ID"):
            options["auth_type"] = "v3applicationcredential"
            options["application_credential_id"] = environ["OS_APPLICATION_CREDENTIAL_ID"]
            options["application_credential_secret"] = environ.get(
                "OS_APPLICATION_CREDENTIAL_SECRET", ""
            )
        return environ["OS_AUTH_URL"], {
            "user": environ.get("OS_USERNAME"),
            "key": environ.get("OS_PASSWORD"),
            "auth_version": environ.get("OS_IDENTITY_API_VERSION", "3"),
            "os_options": {key: value for key, value in options.items() if value},
        }
    if environ.get("ST_AUTH"):
        return environ["ST_AUTH"], {
            "user": environ.get("ST_USER"),
            "key": environ.get("ST_KEY"),
            "auth_version": "1.0",
        }
    raise StorageConfigError(
        "swift:// needs credentials: OS_AUTH_URL and OS_USERNAME/OS_PASSWORD or "
        "OS_APPLICATION_CREDENTIAL_ID/SECRET (Keystone v3), or ST_AUTH, ST_USER, ST_KEY (v1)"
    )


class SwiftBackend:
    """One container through aiohttp, with a token from swiftclient."""

    def __init__(self, location: StorageLocation, environ: Mapping[str, str] | None = None) -> None:
        self.container = location.container
        self._auth_url, self._auth = auth_arguments(os.environ if environ is None else environ)
        self._auth["timeout"] = location.timeout
        connect = min(CONNECT_TIMEOUT, location.timeout)
        #: Requests with a bounded body: their whole exchange.
        self._bounded = aiohttp.ClientTimeout(total=location.timeout, sock_connect=connect)
        #: Streamed GETs: the longest wait for the next bytes.
        self._streamed = aiohttp.ClientTimeout(sock_connect=connect, sock_read=location.timeout)
        self.endpoint = self._auth_url
        self._storage_url = ""
        self._token = ""
        self._session: aiohttp.ClientSession | None = None
        self._auth_lock = asyncio.Lock()
        self._temp_url_key: str | None = None

    # -- connection ----------------------------------------------------------

    async def _authenticate(self) -> None:
        from swiftclient.client import ClientException, get_auth

        try:
            url, token = await asyncio.to_thread(get_auth, self._auth_url, **self._auth)
        except ClientException as error:
            status = f" ({error.http_status})" if error.http_status else ""
            raise StorageConfigError(
                f"Swift auth at {self._auth_url}: {error.msg}{status}"
            ) from None
        except Exception as error:  # keystoneauth1 and requests raise their own kinds
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise StorageConfigError(f"Swift auth at {self._auth_url}: {detail}") from None
        self._storage_url, self._token = str(url), str(token)

    async def open(self, create: bool = True) -> None:
        """Authenticate; check the container, create it when missing."""
        self._session = aiohttp.ClientSession(
            timeout=self._bounded, connector=aiohttp.TCPConnector(limit=64), auto_decompress=False
        )
        try:
            await self._authenticate()
            async with self._request("HEAD", "") as response:
                status = response.status
            if status == 404 and create:
                async with self._request("PUT", "") as response:
                    status = response.status
                    if status not in (201, 202):
                        raise StorageConfigError(
                            f"Swift {self._storage_url}: cannot create container "
                            f"{self.container!r}: {status} {response.reason}"
                        )
            elif status == 403:  # no container-level access (Orbit-only API clients)
                await self._check_object_access()
            elif status >= 300:
                raise StorageConfigError(
                    f"Swift {self._storage_url}: container {self.container!r}: {status}"
                )
        except StorageUnavailable as error:
            await self.close()
            raise StorageConfigError(str(error)) from None
        except BaseException:
            await self.close()
            raise

    async def _check_object_access(self) -> None:
        """A credential allowed objects but not the container itself: probe an object."""
        async with self._request("HEAD", ".regd-access-probe") as response:
            if response.status not in (200, 204, 404):
                raise StorageConfigError(
                    f"Swift {self._storage_url}: no access to container {self.container!r}: "
                    f"{response.status}"
                )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, key: str) -> str:
        base = f"{self._storage_url}/{quote(self.container, safe='')}"
        return f"{base}/{quote(key, safe='/')}" if key else base

    @contextlib.asynccontextmanager
    async def _request(
        self,
        method: str,
        key: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        streamed: bool = False,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request; re-authenticates once on 401; failures -> StorageUnavailable.
        ``streamed``: a GET whose body the caller streams (bounded per read, not in total)."""
        assert self._session is not None, "SwiftBackend.open() first"
        for attempt in (1, 2):
            token = self._token
            try:
                async with self._session.request(
                    method,
                    self._url(key),
                    params=params,
                    headers={**(headers or {}), "X-Auth-Token": token},
                    data=data,
                    timeout=self._streamed if streamed else self._bounded,
                ) as response:
                    if response.status == 401 and attempt == 1:
                        pass
                    elif response.status >= 500 or response.status in (413, 507):
                        text = (await response.text())[:200].strip().splitlines()
                        cause = text[0] if text else response.reason
                        raise StorageUnavailable(
                            f"Swift {self._storage_url}: {method} {key or self.container}: "
                            f"{response.status} {cause}"
                        )
                    else:
                        yield response
                        return
            except (aiohttp.ClientError, TimeoutError) as error:
                raise StorageUnavailable(
                    f"Swift {self._storage_url or self._auth_url}: {method} "
                    f"{key or self.container}: {type(error).__name__} {error}".rstrip()
                ) from None
            async with self._auth_lock:
                if self._token == token:
                    await self._authenticate()

    def _unexpected(self, method: str, key: str, response: aiohttp.ClientResponse) -> Exception:
        return StorageUnavailable(
            f"Swift {self._storage_url}: {method} {key}: {response.status} {response.reason}"
        )

    # -- objects -------------------------------------------------------------

    async def head(self, key: str) -> int | None:
        async with self._request("HEAD", key) as response:
            if response.status == 404:
                return None
            if response.status >= 300:
                raise self._unexpected("HEAD", key, response)
            return int(response.headers.get("Content-Length", "0"))

    async def get(
        self, key: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        if length == 0:
            return
        headers = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{end}"
        async with self._request("GET", key, headers=headers, streamed=True) as response:
            if response.status == 404:
                raise FileNotFoundError(key)
            if response.status == 416:
                return
            if response.status >= 300:
                raise self._unexpected("GET", key, response)
            try:
                async for chunk in response.content.iter_chunked(READ_CHUNK):
                    yield chunk
            except (aiohttp.ClientError, TimeoutError) as error:
                raise StorageUnavailable(
                    f"Swift {self._storage_url}: GET {key}: {type(error).__name__} {error}"
                ) from None

    async def put(self, key: str, data: bytes) -> None:
        async with self._request("PUT", key, data=data) as response:
            if response.status not in (200, 201):
                raise self._unexpected("PUT", key, response)

    async def delete(self, key: str) -> bool:
        async with self._request("DELETE", key) as response:
            if response.status == 404:
                return False
            if response.status >= 300:
                raise self._unexpected("DELETE", key, response)
            return True

    async def delete_composed(self, key: str) -> bool:
        """DELETE ?multipart-manifest=delete: the manifest and its segments. Swift answers
        200 with a bulk report whose own status says what happened."""
        params = {"multipart-manifest": "delete"}
        headers = {"Accept": "application/json"}
        async with self._request("DELETE", key, params=params, headers=headers) as response:
            status = response.status
            report = json.loads(await response.read()) if status == 200 else {}
        if status == 404:
            return False
        if status >= 300:
            raise StorageUnavailable(f"Swift {self._storage_url}: DELETE {key}: {status}")
        outcome = str(report.get("Response Status", ""))
        if outcome.startswith("400"):  # not a manifest (an empty blob): a plain object
            return await self.delete(key)
        if not outcome.startswith("2") or report.get("Errors"):
            raise StorageUnavailable(
                f"Swift {self._storage_url}: DELETE {key}: {outcome} {report.get('Errors')}"
            )
        return int(report.get("Number Deleted", 0)) > 0

    async def list(self, prefix: str) -> AsyncIterator[tuple[str, float]]:
        marker = ""
        while True:
            params = {"prefix": prefix, "format": "json", "marker": marker, "limit": "10000"}
            async with self._request("GET", "", params=params) as response:
                if response.status == 404:
                    return
                if response.status >= 300:
                    raise self._unexpected("GET", self.container, response)
                entries = json.loads(await response.read()) if response.status == 200 else []
            if not entries:
                return
            for entry in entries:
                modified = datetime.fromisoformat(entry["last_modified"]).replace(tzinfo=UTC)
                yield entry["name"], modified.timestamp()
            marker = entries[-1]["name"]

    async def compose(self, key: str, parts: Sequence[tuple[str, int]]) -> None:
        """A static large object over the segments; an empty object for no parts."""
        if not parts:
            await self.put(key, b"")
            return
        manifest = [
            {"path": f"/{self.container}/{part}", "etag": None, "size_bytes": size}
            for part, size in parts
        ]
        params = {"multipart-manifest": "put"}
        body = json.dumps(manifest).encode()
        async with self._request("PUT", key, params=params, data=body) as response:
            if response.status not in (200, 201):
                text = (await response.text())[:200]
                raise StorageUnavailable(
                    f"Swift {self._storage_url}: PUT manifest {key}: {response.status} {text}"
                )

    async def parts_of(self, key: str) -> set[str]:
        """The segments of the static large object at ``key`` (its manifest)."""
        params = {"multipart-manifest": "get", "format": "raw"}
        async with self._request("GET", key, params=params) as response:
            if response.status == 404:
                return set()
            if response.status >= 300:
                raise self._unexpected("GET", key, response)
            if response.headers.get("X-Static-Large-Object", "").lower() != "true":
                return set()
            manifest = json.loads(await response.read())
        prefix = f"/{self.container}/"
        return {
            entry["path"].removeprefix(prefix)
            for entry in manifest
            if entry.get("path", "").startswith(prefix)
        }

    async def abort_incomplete(self, prefix: str, older_than: float) -> int:
        return 0  # a static large object is one PUT: it exists whole or not at all

    async def signed_url(self, key: str, expires: int) -> str:
        """A temp URL (the account's Temp-URL-Key; one is set when the account has none)."""
        from swiftclient.utils import generate_temp_url

        if self._temp_url_key is None:
            self._temp_url_key = await self._account_temp_url_key()
        parts = urlsplit(self._url(key))
        signed = generate_temp_url(parts.path, expires, self._temp_url_key, "GET")
        return f"{parts.scheme}://{parts.netloc}{signed}"

    async def _account_temp_url_key(self) -> str:
        assert self._session is not None
        headers = {"X-Auth-Token": self._token}
        try:
            async with self._session.head(self._storage_url, headers=headers) as response:
                existing = response.headers.get("X-Account-Meta-Temp-Url-Key")
            if existing:
                return existing
            key = secrets.token_urlsafe(32)
            post_headers = {**headers, "X-Account-Meta-Temp-Url-Key": key}
            async with self._session.post(self._storage_url, headers=post_headers) as response:
                if response.status >= 300:
                    raise StorageUnavailable(
                        f"Swift {self._storage_url}: cannot set the account's Temp-URL-Key: "
                        f"{response.status}"
                    )
        except (aiohttp.ClientError, TimeoutError) as error:
            raise StorageUnavailable(f"Swift {self._storage_url}: {error}") from None
        return key
