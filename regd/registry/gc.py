"""Online garbage collection: free blob links and bytes nothing needs, while serving.

What is garbage
---------------
1. A **link** (``repository_blobs`` row) that no manifest of its repository references
   (``manifest_references``, any kind) and that was made — pushed, mounted, fetched, or
   pushed again — before ``now - grace``. A push uploads its blobs before its manifest;
   the grace period is how long that may take. Manifests are never collected, tagged or
   not (as distribution does by default), so everything an untagged manifest or a
   referrer needs stays.
2. A **blob** (``blobs`` row and file) that no repository links any more: its last link
   was collected, unlinked (``DELETE /v2/<name>/blobs/<digest>``) or went with its
   repository; and a **stored file** without a ``blobs`` row (a commit whose link never
   came: a crash, a failed pull-through adopt). Pull-through cache eviction
   (:mod:`regd.remotes.cache`) frees blobs with the same primitive, :func:`free_blob`.

Why it never races a writer
---------------------------
Writers make a blob visible in two steps: the bytes are committed (``commit_upload``) or
found (``pin`` for a mount), then :meth:`Blobs.link` inserts the link in a transaction.
:func:`free_blob` decides and deletes in ONE transaction, holding the digest's lock
(:func:`~regd.registry.blobs.lock_digest`; with SQLite, the single writer lock, taken by
its first statement, a DELETE — across processes too): it deletes the row only if no link
exists, then asks the store to remove the bytes. ``Blobs.link`` takes the same lock and
checks that the bytes are stored before its link can commit. So either the link commits
first (the collection sees it and keeps everything) or the collection does (the link
sees the bytes gone, fails, and the push is refused: never a link to a missing file).

That alone could still delete bytes a client has just uploaded, between its commit and
its link — including the "same content already stored: drop the staged file" path of
the commit. The store closes that window (:mod:`regd.storage.filesystem`): commit and pin
pin the digest and mark the file fresh *before* looking at it; removal renames the file
away *before* looking at the pin and the file's mtime, and puts it back when either is
recent (pinned, or touched since this collection started or within its grace). The
commit that finds the path gone stores its own bytes. Links removed in step 1 are
dropped from the in-memory link cache at once (:meth:`Blobs.drop_links`); another
process (``regd gc`` beside ``regd serve``) is seen within ``LINK_CACHE_TTL``.

A manifest PUT checks its blobs' links first (possibly from the link cache), then again
inside its own transaction (``Manifests._confirm_blobs``): a collection that removed such
a link in between (old, unreferenced until that PUT) gets the PUT refused with
MANIFEST_BLOB_UNKNOWN, never a manifest over a missing blob.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import sqlalchemy as sa

from regd.db import Database
from regd.db.schema import blobs, manifest_references, repository_blobs
from regd.registry.blobs import Blobs, lock_digest
from regd.registry.clock import now
from regd.registry.errors import RegistryError
from regd.registry.names import Digest
from regd.storage import BlobStore

log = logging.getLogger(__name__)

#: Digests looked up in the database at a time when looking for stored orphans.
_BATCH = 500


class _Kept(Exception):
    """The store kept a blob (pinned or fresh): undo deleting its row."""


async def free_blob(db: Database, store: BlobStore, digest: str, fresh_since: float) -> int | None:
    """Delete a blob no repository links: its row and its bytes, under the digest's lock.

    The bytes freed (0: nothing was stored), or None when the blob was kept: linked
    again, or its bytes pinned or fresh since ``fresh_since`` (unix time).
    """
    parsed = Digest.parse(digest)
    linked = sa.exists().where(repository_blobs.c.digest == digest)
    try:
        async with db.write() as conn:
            await lock_digest(conn, digest)
            # The first statement writes: with SQLite this transaction holds the lock now.
            await conn.execute(sa.delete(blobs).where(blobs.c.digest == digest).where(~linked))
            if await conn.scalar(sa.select(linked)):
                return None
            freed = await store.remove(parsed.algorithm, parsed.hex, fresh_since)
            if freed is None:
                raise _Kept
            return freed
    except _Kept:
        return None


@dataclass(slots=True)
class GcReport:
    dry_run: bool
    links: int = 0
    blobs: int = 0
    bytes: int = 0

    def __str__(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (
            f"{verb} {self.links} blob link(s), {self.blobs} blob(s), "
            f"{self.bytes} byte(s) ({self.bytes / (1 << 20):.1f} MiB)"
        )


def _unreferenced_links(cutoff: float) -> sa.ColumnElement[bool]:
    """Links (rows of ``repository_blobs``) made before ``cutoff`` no manifest references."""
    referenced = (
        sa.exists()
        .where(manifest_references.c.repository_id == repository_blobs.c.repository_id)
        .where(manifest_references.c.child == repository_blobs.c.digest)
    )
    return sa.and_(repository_blobs.c.created_at < cutoff, ~referenced)


class GarbageCollector:
    def __init__(self, db: Database, store: BlobStore, blobs_: Blobs) -> None:
        self._db = db
        self._store = store
        self._blobs = blobs_

    async def collect(
        self, grace: float, dry_run: bool = False, started: float | None = None
    ) -> GcReport:
        """One collection: unreferenced links, then unlinked blobs, then stored orphans.

        What was linked, pushed or mounted after ``started - grace`` stays (``started``:
        when this collection began, now unless told).
        """
        cutoff = (now() if started is None else started) - grace
        report = GcReport(dry_run)
        report.links = await self._links(cutoff, dry_run)
        unlinked: list[tuple[str, int | None]] = [*await self.unlinked(cutoff if dry_run else None)]
        orphans = [(digest, None) async for digest in self._orphans()]
        for digest, size in [*unlinked, *orphans]:
            freed: int | None
            if dry_run:
                freed = size if size is not None else await self._stored_size(digest)
            else:
                freed = await free_blob(self._db, self._store, digest, cutoff)
            if freed is not None:
                report.blobs += 1
                report.bytes += freed
        if not dry_run:
            report.bytes += await self._store.purge_removed(cutoff)
        log.info("garbage collection: %s", report)
        return report

    async def _stored_size(self, digest: str) -> int:
        parsed = Digest.parse(digest)
        return await self._store.stat(parsed.algorithm, parsed.hex) or 0

    async def _links(self, cutoff: float, dry_run: bool) -> int:
        garbage = _unreferenced_links(cutoff)
        if dry_run:
            async with self._db.read() as conn:
                count = await conn.scalar(
                    sa.select(sa.func.count()).select_from(repository_blobs).where(garbage)
                )
            return int(count or 0)
        return len(await self._blobs.drop_links(garbage))

    async def unlinked(self, cutoff: float | None = None) -> list[tuple[str, int]]:
        """``(digest, size)`` of blobs no repository links (with ``cutoff``: none would once
        the links step 1 collects before ``cutoff`` are gone — a dry run's answer)."""
        remaining = sa.exists().where(repository_blobs.c.digest == blobs.c.digest)
        if cutoff is not None:
            remaining = remaining.where(~_unreferenced_links(cutoff))
        query = sa.select(blobs.c.digest, blobs.c.size).where(~remaining).order_by(blobs.c.digest)
        async with self._db.read() as conn:
            return [(row.digest, row.size) for row in (await conn.execute(query)).all()]

    async def _orphans(self) -> AsyncIterator[str]:
        """Digests of stored files that have no ``blobs`` row."""
        batch: list[str] = []
        async for algorithm, hexdigest in self._store.list_blobs():
            try:
                batch.append(str(Digest.parse(f"{algorithm}:{hexdigest}")))
            except RegistryError:
                continue  # not a blob of ours
            if len(batch) >= _BATCH:
                for digest in await self._without_row(batch):
                    yield digest
                batch = []
        for digest in await self._without_row(batch):
            yield digest

    async def _without_row(self, digests: list[str]) -> list[str]:
        if not digests:
            return []
        async with self._db.read() as conn:
            known = set(
                (
                    await conn.scalars(sa.select(blobs.c.digest).where(blobs.c.digest.in_(digests)))
                ).all()
            )
        return [digest for digest in digests if digest not in known]
