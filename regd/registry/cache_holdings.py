"""What the pull-through caches hold: blobs linked under cache-repository prefixes and in
no other repository, their sizes and recency; evicting one of them.

The policy (which prefixes are caches, the cap, what to evict first) is the remotes'
(:mod:`regd.remotes.cache`); this module is the registry's side of it, the only one that
reads the registry's tables for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from regd.db import Database
from regd.db.schema import blobs, repositories, repository_blobs
from regd.registry.blobs import Blobs
from regd.registry.gc import free_blob
from regd.storage import BlobStore


@dataclass(frozen=True, slots=True)
class HeldBlob:
    digest: str
    size: int
    #: The later of its newest cache link and its last recorded read (unix time).
    last_used: float


class CacheHoldings:
    def __init__(self, db: Database, store: BlobStore, blobs_: Blobs) -> None:
        self._db = db
        self._store = store
        self._blobs = blobs_

    async def record_reads(self, reads: dict[str, float]) -> None:
        """Each blob's latest read (digest -> unix time), in one batched UPDATE."""
        statement = (
            sa.update(blobs)
            .where(blobs.c.digest == sa.bindparam("d"))
            .values(last_used_at=sa.bindparam("t"))
        )
        async with self._db.write() as conn:
            await conn.execute(statement, [{"d": d, "t": t} for d, t in reads.items()])

    async def held(self, prefixes: Iterable[str]) -> list[HeldBlob]:
        """The blobs linked in repositories under ``prefixes`` (``prefix/...``) and in no
        other repository."""
        cache_ids = _cache_ids(prefixes)
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
            .where(~_local_link(cache_ids, blobs.c.digest))
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            HeldBlob(row.digest, row.size, max(row.at, row.last_used_at or 0.0)) for row in rows
        ]

    async def evict(self, prefixes: Iterable[str], digest: str) -> tuple[bool, int | None]:
        """Drop a blob's links under ``prefixes`` (unless another repository links it) and
        free it: whether links were dropped, and the bytes freed (None: it was kept)."""
        cache_ids = _cache_ids(prefixes)
        dropped = await self._blobs.drop_links(
            sa.and_(
                repository_blobs.c.digest == digest,
                repository_blobs.c.repository_id.in_(cache_ids),
                ~_local_link(cache_ids, digest),
            )
        )
        if not dropped:
            return False, None
        # No grace (no file is fresh): a writer between its commit and its link holds a pin
        # (eviction runs in the daemon, the one process that writes blobs).
        return True, await free_blob(self._db, self._store, digest, math.inf)


def _cache_ids(prefixes: Iterable[str]) -> sa.Select[Any]:
    likes = [repositories.c.name.like(_like_prefix(p), escape="\\") for p in sorted(prefixes)]
    return sa.select(repositories.c.id).where(sa.or_(*likes))


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"


def _local_link(cache_ids: sa.Select[Any], digest: Any) -> sa.Exists:
    local = repository_blobs.alias("local_links")
    return (
        sa.exists().where(local.c.digest == digest).where(local.c.repository_id.not_in(cache_ids))
    )
