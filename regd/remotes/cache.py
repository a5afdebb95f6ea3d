"""The pull-through cache's size cap: least recently used cached blobs are evicted.

What counts: every blob linked in a cache repository (``<remote name>/<upstream path>``)
and in no local repository, once however many cache repositories link it. A blob a local
repository links too is neither counted nor evicted.

Recency is a blob's latest read through a cache (:meth:`CacheCap.touch`, kept in memory and
written in batches: a warm pull costs no database write) or its latest fetch (the time of
its newest cache link), whichever is later. Eviction removes the blob's cache links and
then frees the blob with garbage collection's primitive (:func:`regd.registry.gc.free_blob`),
so it is as safe against concurrent pushes, mounts and fetches of the same digest. The
blob fetched last is never evicted (it may be bigger than the cap on its own: it is still
served). Manifests stay cached; a later pull of an evicted blob fetches it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Final

from regd.registry import Registry
from regd.registry.cache_holdings import CacheHoldings, HeldBlob
from regd.registry.names import Digest
from regd.remotes.config import Remotes, default_alias

log = logging.getLogger(__name__)

#: Reads remembered before they are written in one batch (or after FLUSH_INTERVAL seconds).
FLUSH_AFTER: Final = 1000
FLUSH_INTERVAL: Final = 60.0


@dataclass(frozen=True, slots=True)
class CacheUsage:
    size: int
    cap: int | None
    blobs: int


class CacheCap:
    """Keeps the bytes held by pull-through caches under ``cache-size-cap``."""

    def __init__(self, registry: Registry, remotes: Remotes) -> None:
        self._holdings = CacheHoldings(registry.db, registry.store, registry.blobs)
        self._remotes = remotes
        self._touched: dict[str, float] = {}
        self._flushed_at = time.monotonic()
        self._flushing: asyncio.Task[None] | None = None
        self._enforcing = asyncio.Lock()

    # -- recency -------------------------------------------------------------

    def touch(self, cache_name: str, digest: Digest) -> None:
        """Note a read of a cached blob (cheap: in memory, persisted lazily)."""
        self._touched[str(digest)] = time.time()
        due = time.monotonic() - self._flushed_at > FLUSH_INTERVAL
        if (len(self._touched) >= FLUSH_AFTER or due) and self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_in_background())

    async def _flush_in_background(self) -> None:
        try:
            await self.flush()
        except Exception:
            log.exception("recording cache reads failed")
        finally:
            self._flushing = None

    async def flush(self) -> None:
        """Write the reads noted so far (one batched UPDATE)."""
        touched, self._touched = self._touched, {}
        self._flushed_at = time.monotonic()
        if touched:
            await self._holdings.record_reads(touched)

    # -- what the cache holds ------------------------------------------------

    async def _prefixes(self) -> set[str]:
        """The names of the cache repositories' prefixes (empty: no remote, so no cache)."""
        prefixes = {remote.name for remote in await self._remotes.all()}
        default = (await self._remotes.settings()).get("default-remote-registry")
        if default and not any(default in (r.address, r.name) for r in await self._remotes.all()):
            prefixes.add(default_alias(default))
        return prefixes

    async def _cached(self, prefixes: set[str]) -> list[HeldBlob]:
        """What the caches hold, recency including the reads not yet written."""
        return [
            replace(blob, last_used=max(blob.last_used, self._touched.get(blob.digest, 0.0)))
            for blob in await self._holdings.held(prefixes)
        ]

    async def usage(self) -> CacheUsage:
        cap = (await self._remotes.settings()).get("cache-size-cap")
        prefixes = await self._prefixes()
        cached = await self._cached(prefixes) if prefixes else []
        return CacheUsage(sum(blob.size for blob in cached), cap, len(cached))

    # -- eviction ------------------------------------------------------------

    async def enforce(self) -> None:
        """Evict least recently used cached blobs until the cache fits its cap."""
        cap = (await self._remotes.settings()).get("cache-size-cap")
        if cap is None:
            return
        async with self._enforcing:
            await self.flush()
            prefixes = await self._prefixes()
            if not prefixes:
                return
            cached = sorted(await self._cached(prefixes), key=lambda blob: blob.last_used)
            total = sum(blob.size for blob in cached)
            for blob in cached[:-1]:  # the newest stays, however big
                if total <= cap:
                    break
                if await self._evict(prefixes, blob.digest):
                    total -= blob.size

    async def _evict(self, prefixes: set[str], digest: str) -> bool:
        """Drop a blob's cache links (unless a local repository links it) and free it."""
        dropped, freed = await self._holdings.evict(prefixes, digest)
        if not dropped:
            return False
        log.info("evicted %s from the pull-through cache (%s bytes freed)", digest, freed)
        return True
