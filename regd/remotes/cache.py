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
import math
import time
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from regd.db.schema import blobs, repositories, repository_blobs
from regd.registry import Registry
from regd.registry.gc import free_blob
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


@dataclass(frozen=True, slots=True)
class _Cached:
    digest: str
    size: int
    last_used: float


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"


class CacheCap:
    """Keeps the bytes held by pull-through caches under ``cache-size-cap``."""

    def __init__(self, registry: Registry, remotes: Remotes) -> None:
        self._registry = registry
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
        if not touched:
            return
        statement = (
            sa.update(blobs)
            .where(blobs.c.digest == sa.bindparam("d"))
            .values(last_used_at=sa.bindparam("t"))
        )
        async with self._registry.db.write() as conn:
            await conn.execute(statement, [{"d": d, "t": t} for d, t in touched.items()])

    # -- what the cache holds ------------------------------------------------

    async def _cache_ids(self) -> sa.Select[Any] | None:
        """The ids of the cache repositories (None: no remote, so no cache)."""
        prefixes = {remote.name for remote in await self._remotes.all()}
        default = (await self._remotes.settings()).get("default-remote-registry")
        if default and not any(default in (r.address, r.name) for r in await self._remotes.all()):
            prefixes.add(default_alias(default))
        if not prefixes:
            return None
        likes = [repositories.c.name.like(_like_prefix(p), escape="\\") for p in sorted(prefixes)]
        return sa.select(repositories.c.id).where(sa.or_(*likes))

    @staticmethod
    def _local_link(cache_ids: sa.Select[Any], digest: Any) -> sa.Exists:
        local = repository_blobs.alias("local_links")
        return (
            sa.exists()
            .where(local.c.digest == digest)
            .where(local.c.repository_id.not_in(cache_ids))
        )

    async def _cached(self, cache_ids: sa.Select[Any]) -> list[_Cached]:
        linked = (
            sa.select(
                repository_blobs.c.digest, sa.func.max(repository_blobs.c.created_at).label("at")
            )
            .where(repository_blobs.c.repository_id.in_(cache_ids))
            .group_by(repository_blobs.c.digest)
            .subquery()
        )
        query = (
            sa.select(blobs.c.digest, blobs.c.size, blobs.c.last_used_at, linked.c.at)
            .join_from(blobs, linked, linked.c.digest == blobs.c.digest)
            .where(~self._local_link(cache_ids, blobs.c.digest))
        )
        async with self._registry.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            _Cached(
                row.digest,
                row.size,
                max(row.at, row.last_used_at or 0.0, self._touched.get(row.digest, 0.0)),
            )
            for row in rows
        ]

    async def usage(self) -> CacheUsage:
        cap = (await self._remotes.settings()).get("cache-size-cap")
        cache_ids = await self._cache_ids()
        cached = [] if cache_ids is None else await self._cached(cache_ids)
        return CacheUsage(sum(blob.size for blob in cached), cap, len(cached))

    # -- eviction ------------------------------------------------------------

    async def enforce(self) -> None:
        """Evict least recently used cached blobs until the cache fits its cap."""
        cap = (await self._remotes.settings()).get("cache-size-cap")
        if cap is None:
            return
        async with self._enforcing:
            await self.flush()
            cache_ids = await self._cache_ids()
            if cache_ids is None:
                return
            cached = sorted(await self._cached(cache_ids), key=lambda blob: blob.last_used)
            total = sum(blob.size for blob in cached)
            for blob in cached[:-1]:  # the newest stays, however big
                if total <= cap:
                    break
                if await self._evict(cache_ids, blob.digest):
                    total -= blob.size

    async def _evict(self, cache_ids: sa.Select[Any], digest: str) -> bool:
        """Drop a blob's cache links (unless a local repository links it) and free it."""
        dropped = await self._registry.blobs.drop_links(
            sa.and_(
                repository_blobs.c.digest == digest,
                repository_blobs.c.repository_id.in_(cache_ids),
                ~self._local_link(cache_ids, digest),
            )
        )
        if not dropped:
            return False
        # No grace (no file is fresh): a writer between its commit and its link holds a pin
        # (eviction runs in the daemon, the one process that writes blobs).
        freed = await free_blob(self._registry.db, self._registry.store, digest, math.inf)
        log.info("evicted %s from the pull-through cache (%s bytes freed)", digest, freed)
        return True
