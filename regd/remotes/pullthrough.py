"""The pull-through cache: manifests and blobs from upstreams, kept and served locally.

- Manifests by digest and all blobs are cached for good, verified against their digest.
- Tags are revalidated after ``tag-ttl`` seconds (a HEAD; a GET only when they moved).
- When the upstream is unreachable, answers 5xx or 429, a cached tag is served (stale).
- Concurrent pulls of one uncached blob share one upstream fetch; every client streams
  from the staged bytes as they arrive, and the last byte is held back until the digest
  is verified, so a corrupt upstream blob is never cached nor completely served.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial

import aiohttp

from regd.registry import Registry
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.manifests import Manifest
from regd.registry.names import Digest
from regd.remotes.cache import CacheCap
from regd.remotes.config import Remotes, Target
from regd.remotes.upstream import MANIFEST_ACCEPT, Upstream, UpstreamError

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


@dataclass(slots=True)
class CachedManifest:
    manifest: Manifest
    #: Set when served from cache because the upstream failed.
    stale_reason: str | None = None


@dataclass(slots=True)
class _Fetch:
    digest: Digest
    upload_id: str
    size: int
    written: int = 0
    verified: bool = False
    failed: str | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def finished(self) -> bool:
        return self.verified or self.failed is not None


async def _whole_chunks(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The body in _CHUNK pieces: fewer writes, wake-ups and reads than what arrives."""
    while True:
        try:
            yield await content.readexactly(_CHUNK)
        except asyncio.IncompleteReadError as end:
            if end.partial:
                yield end.partial
            return


def _sendable(fetch: _Fetch) -> int:
    """How far clients may read: all once verified, else all but the last byte received."""
    return fetch.size if fetch.verified else min(fetch.written, fetch.size - 1)


def _can_advance(fetch: _Fetch, sent: int) -> bool:
    return fetch.finished or _sendable(fetch) > sent


def _upstream_failure(error: UpstreamError) -> RegistryError:
    if error.auth_failed:
        return RegistryError(ErrorCode.DENIED, f"upstream: {error}")
    if error.status == 429:
        headers = {"Retry-After": error.retry_after} if error.retry_after else {}
        return RegistryError(ErrorCode.TOO_MANY_REQUESTS, f"upstream: {error}", headers=headers)
    return RegistryError(ErrorCode.UNAVAILABLE, f"upstream: {error}")


class PullThrough:
    def __init__(
        self, registry: Registry, remotes: Remotes, upstream: Upstream, cache: CacheCap
    ) -> None:
        self._registry = registry
        self._remotes = remotes
        self._upstream = upstream
        self.cache = cache
        #: Blob fetches under way, by digest: started (connecting) or downloading.
        self._fetches: dict[str, asyncio.Task[_Fetch]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def target(self, name: str) -> Target | None:
        """The upstream of a name: a remote's prefix, or the default remote for unknown names."""
        mirrored = await self._remotes.mirrored(name)
        if mirrored is not None:
            return mirrored
        if await self._registry.repositories.id_of(name) is not None:
            return None
        return await self._remotes.default_target(name)

    # -- manifests -----------------------------------------------------------

    async def manifest(self, target: Target, reference: str | Digest) -> CachedManifest:
        manifests = self._registry.manifests
        if isinstance(reference, Digest):
            try:
                return CachedManifest(await manifests.get(target.cache_name, reference))
            except RegistryError:
                pass
            return CachedManifest(await self._fetch_manifest(target, reference, None))
        state = await manifests.tag_state(target.cache_name, reference)
        ttl = (await self._remotes.settings()).get("tag-ttl") or 0
        if state is not None and time.time() - state[1] < ttl:
            return CachedManifest(await manifests.get(target.cache_name, reference))
        try:
            current = await self._head_digest(target, reference)
            if state is not None and current is not None and current == state[0]:
                cached = await manifests.get(target.cache_name, Digest.parse(current))
                await manifests.put_cached(
                    target.cache_name,
                    cached.content,
                    cached.media_type,
                    Digest.parse(current),
                    reference,
                )
                return CachedManifest(cached)
            return CachedManifest(await self._fetch_manifest(target, reference, reference))
        except UpstreamError as error:
            if state is None or not error.retryable:
                if error.status == 404:
                    raise RegistryError(
                        ErrorCode.MANIFEST_UNKNOWN, detail={"tag": reference}
                    ) from None
                raise _upstream_failure(error) from None
            log.warning("serving cached %s:%s: %s", target.cache_name, reference, error)
            cached = await manifests.get(target.cache_name, Digest.parse(state[0]))
            return CachedManifest(cached, stale_reason=str(error))

    async def _head_digest(self, target: Target, reference: str) -> str | None:
        response = await self._upstream.get(
            target.remote,
            target.upstream_path,
            f"/v2/{target.upstream_path}/manifests/{reference}",
            method="HEAD",
            accept=MANIFEST_ACCEPT,
        )
        response.release()
        return response.headers.get("Docker-Content-Digest")

    async def _fetch_manifest(
        self, target: Target, reference: str | Digest, tag: str | None
    ) -> Manifest:
        try:
            response = await self._upstream.get(
                target.remote,
                target.upstream_path,
                f"/v2/{target.upstream_path}/manifests/{reference}",
                accept=MANIFEST_ACCEPT,
            )
        except UpstreamError as error:
            if error.status == 404:
                raise RegistryError(
                    ErrorCode.MANIFEST_UNKNOWN, detail={"reference": str(reference)}
                ) from None
            raise
        async with response:
            content = await response.read()
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            claimed = response.headers.get("Docker-Content-Digest")
        algorithm = reference.algorithm if isinstance(reference, Digest) else "sha256"
        digest = Digest.of(content, algorithm)
        expected = (
            reference
            if isinstance(reference, Digest)
            else (Digest.parse(claimed) if claimed else None)
        )
        if expected is not None and Digest.of(content, expected.algorithm) != expected:
            raise RegistryError(
                ErrorCode.UNAVAILABLE, "upstream sent a manifest that does not match its digest"
            )
        await self._registry.manifests.put_cached(
            target.cache_name, content, media_type or "", digest, tag
        )
        return Manifest(str(digest), media_type, content)

    # -- blobs ---------------------------------------------------------------

    async def blob_size(self, target: Target, digest: Digest) -> int:
        """HEAD through to the upstream for a blob not cached yet."""
        try:
            response = await self._upstream.get(
                target.remote,
                target.upstream_path,
                f"/v2/{target.upstream_path}/blobs/{digest}",
                method="HEAD",
            )
        except UpstreamError as error:
            if error.status == 404:
                raise RegistryError(
                    ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)}
                ) from None
            raise _upstream_failure(error) from None
        response.release()
        if response.content_length is None:
            raise RegistryError(ErrorCode.UNAVAILABLE, "upstream sent no blob size")
        return response.content_length

    async def open_blob(self, target: Target, digest: Digest) -> tuple[int, AsyncIterator[bytes]]:
        """The blob's size and its bytes, fetched once however many clients ask at a time."""
        key = str(digest)
        starting = self._fetches.get(key)
        if starting is None:
            # Registered before the first await: a request arriving while the upstream is
            # being reached waits for this fetch instead of starting one of its own.
            starting = asyncio.create_task(self._start_fetch(target, digest))
            self._fetches[key] = starting
            starting.add_done_callback(partial(self._started, key))
        # Shielded: a client that goes away does not cancel the fetch the others wait on.
        fetch = await asyncio.shield(starting)
        return fetch.size, self._follow(fetch, target.cache_name)

    def _started(self, key: str, task: asyncio.Task[_Fetch]) -> None:
        """A fetch that could not start is forgotten at once, so the next pull tries again."""
        if (task.cancelled() or task.exception() is not None) and self._fetches.get(key) is task:
            del self._fetches[key]

    async def _start_fetch(self, target: Target, digest: Digest) -> _Fetch:
        try:
            response = await self._upstream.get(
                target.remote, target.upstream_path, f"/v2/{target.upstream_path}/blobs/{digest}"
            )
        except UpstreamError as error:
            if error.status == 404:
                raise RegistryError(
                    ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)}
                ) from None
            raise _upstream_failure(error) from None
        if response.content_length is None:
            response.release()
            raise RegistryError(ErrorCode.UNAVAILABLE, "upstream sent no blob size")
        fetch = _Fetch(digest, f"pull-{uuid.uuid4()}", response.content_length)
        try:
            await self._registry.store.create_upload(fetch.upload_id)
        except BaseException:
            response.release()
            raise
        # The download belongs to no single client: one that goes away stops nobody else.
        # It forgets the fetch (self._fetches) when it ends.
        task = asyncio.create_task(self._download(target, fetch, response))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return fetch

    async def _download(
        self, target: Target, fetch: _Fetch, response: aiohttp.ClientResponse
    ) -> None:
        store = self._registry.store
        hasher = hashlib.new(fetch.digest.algorithm)
        try:
            async with response:
                writer = await store.open_upload(fetch.upload_id)
                try:
                    async for chunk in _whole_chunks(response.content):
                        await writer.write(chunk)
                        hasher.update(chunk)
                        async with fetch.changed:
                            fetch.written += len(chunk)
                            fetch.changed.notify_all()
                finally:
                    await writer.close()
            if fetch.written != fetch.size or hasher.hexdigest() != fetch.digest.hex:
                raise UpstreamError(f"upstream blob {fetch.digest} is truncated or corrupt")
            await store.commit_upload(fetch.upload_id, fetch.digest.algorithm, fetch.digest.hex)
            await self._registry.blobs.adopt(target.cache_name, fetch.digest, fetch.size)
            await self.cache.enforce()
            async with fetch.changed:
                fetch.verified = True
                fetch.changed.notify_all()
        except Exception as error:
            log.warning("pull-through of %s failed: %s", fetch.digest, error)
            await store.delete_upload(fetch.upload_id)
            async with fetch.changed:
                fetch.failed = str(error)
                fetch.changed.notify_all()
        finally:
            self._fetches.pop(str(fetch.digest), None)

    async def _follow(self, fetch: _Fetch, cache_name: str) -> AsyncIterator[bytes]:
        """Stream the staged bytes as they arrive; the last byte only once verified.

        The fetch links the blob into the repository that started it; a client that joined
        from another cached repository links it into its own once all went well.
        """
        offset = 0
        while offset < fetch.size or not fetch.finished:
            async with fetch.changed:
                await fetch.changed.wait_for(partial(_can_advance, fetch, offset))
            if fetch.failed is not None:
                raise ConnectionAbortedError(fetch.failed)
            limit = _sendable(fetch)
            if limit > offset:
                async for chunk in self._read(fetch, offset, limit):
                    offset += len(chunk)
                    yield chunk
        await self._registry.blobs.adopt(cache_name, fetch.digest, fetch.size)

    async def _read(self, fetch: _Fetch, offset: int, limit: int) -> AsyncIterator[bytes]:
        store = self._registry.store
        digest = fetch.digest
        if fetch.verified:
            source = store.read(digest.algorithm, digest.hex, offset, limit - offset)
        else:
            source = store.read_upload(fetch.upload_id, offset)
        remaining = limit - offset
        try:
            async for chunk in source:
                piece = chunk[:remaining]
                remaining -= len(piece)
                yield piece
                if remaining <= 0:
                    return
        except FileNotFoundError:
            # Committed (renamed) while we read: continue from the blob itself.
            async for chunk in store.read(
                digest.algorithm, digest.hex, limit - remaining, remaining
            ):
                yield chunk
