"""The pull-through cache: manifests and blobs from upstreams, kept and served locally.

- Manifests by digest and all blobs are cached for good, verified against their digest.
- Tags are revalidated after ``tag-ttl`` seconds (a HEAD; a GET only when they moved).
- When the upstream is unreachable, answers 5xx or 429, a cached tag is served (stale).
- Concurrent pulls of one uncached blob share one upstream fetch (:mod:`.blobfetch`):
  every client is streamed to from memory as the bytes arrive, the last byte held back
  until the digest is verified, so a corrupt upstream blob is never cached nor completely
  served. Concurrent requests for one uncached manifest or one stale tag share one
  upstream round too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp

from regd.caching import InFlight
from regd.metrics import Metrics
from regd.notify import PULLTHROUGH_FETCH
from regd.registry import Registry
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.manifest_format import MAX_MANIFEST_SIZE
from regd.registry.manifests import Manifest
from regd.registry.names import Digest
from regd.remotes.blobfetch import MEMORY_BUDGET, BlobFetch, MemoryBudget
from regd.remotes.cache import CacheCap
from regd.remotes.config import Remotes, Target
from regd.remotes.upstream import MANIFEST_ACCEPT, Upstream, UpstreamError, read_at_most

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


@dataclass(slots=True)
class CachedManifest:
    manifest: Manifest
    #: Set when served from cache because the upstream failed.
    stale_reason: str | None = None
    #: For /metrics: ``hit`` (the cache answered), ``miss`` (the upstream did), ``stale``.
    result: str = "hit"


def _upstream_failure(error: UpstreamError) -> RegistryError:
    if error.auth_failed:
        return RegistryError(ErrorCode.DENIED, f"upstream: {error}")
    if error.status == 429:
        headers = {"Retry-After": error.retry_after} if error.retry_after else {}
        return RegistryError(ErrorCode.TOO_MANY_REQUESTS, f"upstream: {error}", headers=headers)
    return RegistryError(ErrorCode.UNAVAILABLE, f"upstream: {error}")


class PullThrough:
    def __init__(
        self,
        registry: Registry,
        remotes: Remotes,
        upstream: Upstream,
        cache: CacheCap,
        memory: int = MEMORY_BUDGET,
        metrics: Metrics | None = None,
    ) -> None:
        self._registry = registry
        self._metrics = metrics
        self._remotes = remotes
        self._upstream = upstream
        self.cache = cache
        #: Blob fetches under way, by digest: started (connecting) or downloading.
        self._fetches: dict[str, asyncio.Task[BlobFetch]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._memory = MemoryBudget(memory)
        #: Manifest fetches and tag revalidations under way, by (repository, reference).
        self._manifest_fetches: InFlight[tuple[str, str], CachedManifest] = InFlight()

    def memory_in_use(self) -> int:
        """Bytes of cold blobs in memory ahead of the cache writes (read by /metrics)."""
        return self._memory.used

    def _count(self, kind: str, result: str) -> None:
        if result == "miss":
            PULLTHROUGH_FETCH.set(True)  # a webhook "pull-through" event for this request
        if self._metrics is not None:
            self._metrics.pullthrough(kind, result)

    def served_cached_blob(self, cache_name: str, digest: Digest) -> None:
        """A blob answered from the cache: a hit, and a read noted for eviction."""
        self._count("blob", "hit")
        self.cache.touch(cache_name, digest)

    async def target(self, name: str, registry: str | None = None) -> Target | None:
        """The upstream of a name: the remote for ``registry`` (containerd's ``?ns=``), a
        remote's prefix, or the default remote for unknown names."""
        if registry:
            found = await self._remotes.registry_target(registry, name)
            if found is None:
                raise RegistryError(ErrorCode.NAME_UNKNOWN, f"no remote registry for ns={registry}")
            return found
        mirrored = await self._remotes.mirrored(name)
        if mirrored is not None:
            return mirrored
        if await self._registry.repositories.id_of(name) is not None:
            return None
        return await self._remotes.default_target(name)

    # -- manifests -----------------------------------------------------------

    async def manifest(self, target: Target, reference: str | Digest) -> CachedManifest:
        """A cached manifest, or one fetched (once, however many clients ask at a time)."""
        manifests = self._registry.manifests
        if isinstance(reference, Digest):
            try:
                found = CachedManifest(await manifests.get(target.cache_name, reference))
            except RegistryError:
                self._count("manifest", "miss")
                return await self._shared(target, reference, self._fetch_by_digest)
            self._count("manifest", "hit")
            return found
        state = await manifests.tag_state(target.cache_name, reference)
        ttl = (await self._remotes.settings()).get("tag-ttl") or 0
        if state is not None and time.time() - state[1] < ttl:
            self._count("manifest", "hit")
            return CachedManifest(await manifests.get(target.cache_name, reference))
        try:
            found = await self._shared(target, reference, partial(self._revalidate, state=state))
        except Exception:
            self._count("manifest", "miss")
            raise
        self._count("manifest", found.result)
        return found

    async def _shared(
        self,
        target: Target,
        reference: str | Digest,
        work: Callable[[Target, Any], Coroutine[Any, Any, CachedManifest]],
    ) -> CachedManifest:
        """One upstream round per (repository, reference) at a time; the others wait on it
        (a client that goes away does not cancel the round the others wait on)."""
        key = (target.cache_name, str(reference))
        return await self._manifest_fetches.run(key, partial(work, target, reference))

    async def _fetch_by_digest(self, target: Target, digest: Digest) -> CachedManifest:
        try:
            return CachedManifest(await self._fetch_manifest(target, digest, None), result="miss")
        except UpstreamError as error:
            raise _upstream_failure(error) from None

    async def _revalidate(
        self, target: Target, tag: str, state: tuple[str, float] | None
    ) -> CachedManifest:
        """The tag as the upstream has it now; the cached one when the upstream fails."""
        manifests = self._registry.manifests
        try:
            # A tag seen before is checked with a HEAD (Docker Hub does not count those
            # against its pull limit) and fetched only when it moved.
            current = None if state is None else await self._head_digest(target, tag)
            if state is not None and current is not None and current == state[0]:
                digest = Digest.parse(current)
                cached = await manifests.get(target.cache_name, digest)
                await manifests.put_cached(
                    target.cache_name, cached.content, cached.media_type, digest, tag
                )
                return CachedManifest(cached)
            return CachedManifest(await self._fetch_manifest(target, tag, tag), result="miss")
        except UpstreamError as error:
            if state is None or not error.retryable:
                if error.status == 404:
                    raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"tag": tag}) from None
                raise _upstream_failure(error) from None
            log.warning("serving cached %s:%s: %s", target.cache_name, tag, error)
            cached = await manifests.get(target.cache_name, Digest.parse(state[0]))
            return CachedManifest(cached, stale_reason=str(error), result="stale")

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
            try:
                content = await read_at_most(response, MAX_MANIFEST_SIZE)
            except ValueError as error:
                raise RegistryError(
                    ErrorCode.UNAVAILABLE, f"upstream manifest refused: {error}"
                ) from None
            self._fetched(target, len(content))
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

    def _fetched(self, target: Target, size: int) -> None:
        if self._metrics is not None:
            self._metrics.upstream_bytes.labels(target.remote.name).inc(size)

    # -- blobs ---------------------------------------------------------------

    async def blob_size(self, target: Target, digest: Digest) -> int:
        """HEAD through to the upstream for a blob not cached yet."""
        self._count("blob", "miss")
        response, size = await self._blob_response(target, digest, "HEAD")
        response.release()
        return size

    async def _blob_response(
        self, target: Target, digest: Digest, method: str = "GET"
    ) -> tuple[aiohttp.ClientResponse, int]:
        """The upstream's answer for a blob and the blob's size; an OCI error otherwise."""
        try:
            response = await self._upstream.get(
                target.remote,
                target.upstream_path,
                f"/v2/{target.upstream_path}/blobs/{digest}",
                method=method,
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
        return response, response.content_length

    async def open_blob(self, target: Target, digest: Digest) -> tuple[int, AsyncIterator[bytes]]:
        """The blob's size and its bytes, fetched once however many clients ask at a time."""
        self._count("blob", "miss")
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

    def _started(self, key: str, task: asyncio.Task[BlobFetch]) -> None:
        """A fetch that could not start is forgotten at once, so the next pull tries again."""
        if (task.cancelled() or task.exception() is not None) and self._fetches.get(key) is task:
            del self._fetches[key]

    async def _start_fetch(self, target: Target, digest: Digest) -> BlobFetch:
        response, size = await self._blob_response(target, digest)
        store = self._registry.store
        fetch = BlobFetch(store, digest, size, f"pull-{uuid.uuid4()}", self._memory)
        try:
            await store.create_upload(fetch.upload_id)
        except BaseException:
            response.release()
            raise
        # The download belongs to no single client: one that goes away stops nobody else.
        task = asyncio.create_task(self._download(target, fetch, response))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return fetch

    async def _download(
        self, target: Target, fetch: BlobFetch, response: aiohttp.ClientResponse
    ) -> None:
        async def cached() -> None:
            await self._registry.blobs.adopt(target.cache_name, fetch.digest, fetch.size)
            await self.cache.enforce()

        try:
            await fetch.run(response, cached)
        finally:
            self._fetches.pop(str(fetch.digest), None)
            self._fetched(target, fetch.received)

    async def _follow(self, fetch: BlobFetch, cache_name: str) -> AsyncIterator[bytes]:
        """The fetch's bytes; then, once it is cached, the blob is linked here too.

        The fetch links the blob into the repository that started it; a client that joined
        from another cached repository links it into its own. The client has every byte
        before this waits for the commit: it only holds this connection's next request, so
        a client sees the blob cached on its next request.
        """
        async for chunk in fetch.follow():
            yield chunk
        await fetch.done.wait()
        if await self._registry.store.stat(fetch.digest.algorithm, fetch.digest.hex) is not None:
            await self._registry.blobs.adopt(cache_name, fetch.digest, fetch.size)
