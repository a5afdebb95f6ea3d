"""Blob uploads: sessions, chunks, verification and commit.

Bytes are hashed as they arrive (sha256, the digest clients use) and staged in the
blob store; a blob becomes visible only after its digest was verified and the
staged file was committed by the driver (one fsync, one atomic rename).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from regd.db import Database
from regd.db.schema import uploads
from regd.registry.blobs import Blobs
from regd.registry.clock import now
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.names import Digest
from regd.registry.repositories import Repositories
from regd.storage import BlobStore

log = logging.getLogger(__name__)

#: The algorithm hashed while receiving; others are computed from the staged bytes.
STREAMING_ALGORITHM = "sha256"


@dataclass(slots=True)
class _Progress:
    """The running hash of an upload's staged bytes (kept in memory between requests)."""

    size: int
    hasher: Any  # hashlib._Hash
    lock: asyncio.Lock


class Uploads:
    def __init__(
        self, db: Database, store: BlobStore, repositories: Repositories, blobs: Blobs
    ) -> None:
        self._db = db
        self._store = store
        self._repositories = repositories
        self._blobs = blobs
        self._progress: dict[str, _Progress] = {}
        #: The repository of each session this process opened and still has: on SQLite
        #: (one regd owns the database) that is what the uploads table says, without
        #: asking it. On PostgreSQL another replica may end a session: asked each time.
        self._owners: dict[str, str] = {}

    # -- sessions ------------------------------------------------------------

    async def start(self, name: str) -> str:
        """Open an upload session; its id."""
        upload_id = str(uuid.uuid4())
        await self._store.create_upload(upload_id)
        async with self._db.write() as conn:
            # The repository itself appears with its first committed blob or manifest.
            await conn.execute(
                sa.insert(uploads).values(id=upload_id, repository=name, created_at=now())
            )
        self._progress[upload_id] = _Progress(0, hashlib.new(STREAMING_ALGORITHM), asyncio.Lock())
        if not self._db.is_postgresql:
            self._owners[upload_id] = name
        return upload_id

    async def _check(self, name: str, upload_id: str) -> None:
        """BLOB_UPLOAD_UNKNOWN unless the session exists and belongs to ``name``."""
        owner = self._owners.get(upload_id)
        if owner is not None:
            if owner != name:
                raise RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, detail={"uuid": upload_id})
            return
        async with self._db.read() as conn:
            owner = await conn.scalar(
                sa.select(uploads.c.repository).where(uploads.c.id == upload_id)
            )
        if owner != name:
            raise RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, detail={"uuid": upload_id})

    async def size(self, name: str, upload_id: str) -> int:
        """Bytes received so far."""
        await self._check(name, upload_id)
        size = await self._store.upload_size(upload_id)
        if size is None:
            raise RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, detail={"uuid": upload_id})
        return size

    async def append(
        self,
        name: str,
        upload_id: str,
        body: AsyncIterator[bytes],
        start: int | None = None,
        length: int | None = None,
    ) -> int:
        """Append a chunk; ``start`` (from Content-Range) must equal the current size, and a
        chunk of unannounced size must be ``length`` bytes long when that is given (else it
        is undone: the upload stays as it was)."""
        await self._check(name, upload_id)
        progress = await self._progress_of(upload_id)
        async with progress.lock:
            if start is not None and start != progress.size:
                raise UploadOutOfOrder(upload_id, progress.size)
            await self._receive(upload_id, progress, body, length)
            return progress.size

    async def finish(
        self,
        name: str,
        upload_id: str,
        digest: Digest,
        body: AsyncIterator[bytes] | None,
        start: int | None = None,
        length: int | None = None,
    ) -> int:
        """Append the last chunk (if any; ``start`` and ``length`` as for :meth:`append`),
        verify the digest and commit; the blob's size."""
        await self._check(name, upload_id)
        progress = await self._progress_of(upload_id)
        async with progress.lock:
            if start is not None and start != progress.size:
                raise UploadOutOfOrder(upload_id, progress.size)
            if body is not None:
                await self._receive(upload_id, progress, body, length)
            return await self._commit(name, upload_id, progress, digest)

    async def upload(self, name: str, digest: Digest, body: AsyncIterator[bytes]) -> int:
        """A monolithic upload (POST with ``?digest=``): receive, verify, commit.

        No session is recorded: until the blob is committed nothing is written to the
        database, so a failed push leaves nothing behind, not even a new repository.
        """
        upload_id = str(uuid.uuid4())
        progress = _Progress(0, hashlib.new(STREAMING_ALGORITHM), asyncio.Lock())
        self._progress[upload_id] = progress  # locked: the sweeper leaves it alone
        try:
            async with progress.lock:
                await self._store.create_upload(upload_id)
                await self._receive(upload_id, progress, body)
                return await self._commit(name, upload_id, progress, digest)
        except BaseException:
            await self._discard(upload_id)
            raise

    async def _commit(self, name: str, upload_id: str, progress: _Progress, digest: Digest) -> int:
        """Verify the staged bytes, make them the blob and link it (the caller holds the lock)."""
        await self._verify(upload_id, progress, digest)
        await self._store.commit_upload(upload_id, digest.algorithm, digest.hex)
        async with self._db.write() as conn:
            repository_id = await self._repositories.ensure(conn, name)
            await self._blobs.link(conn, repository_id, str(digest), progress.size)
            await conn.execute(sa.delete(uploads).where(uploads.c.id == upload_id))
        self._repositories.remember(name, repository_id)
        self._forget(upload_id)
        return progress.size

    async def cancel(self, name: str, upload_id: str) -> None:
        """Drop a session, waiting for a PATCH or PUT in progress on it to finish first."""
        await self._check(name, upload_id)
        progress = await self._progress_of(upload_id)
        async with progress.lock:
            await self._discard(upload_id)

    def _forget(self, upload_id: str) -> None:
        self._progress.pop(upload_id, None)
        self._owners.pop(upload_id, None)

    def forget_repository(self, name: str) -> None:
        """The repository was deleted with its sessions (their rows): forget them."""
        for upload_id in [u for u, owner in self._owners.items() if owner == name]:
            self._forget(upload_id)

    async def _discard(self, upload_id: str) -> None:
        self._forget(upload_id)
        await self._store.delete_upload(upload_id)
        async with self._db.write() as conn:
            await conn.execute(sa.delete(uploads).where(uploads.c.id == upload_id))

    # -- bytes ---------------------------------------------------------------

    async def _progress_of(self, upload_id: str) -> _Progress:
        """The running hash; rebuilt from the staged bytes after a restart or a fault."""
        size = await self._store.upload_size(upload_id)
        if size is None:
            raise RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, detail={"uuid": upload_id})
        progress = self._progress.get(upload_id)
        if progress is not None and (progress.size == size or progress.lock.locked()):
            return progress
        hasher = hashlib.new(STREAMING_ALGORITHM)
        rehashed = 0
        async for chunk in self._store.read_upload(upload_id):
            hasher.update(chunk)
            rehashed += len(chunk)
        progress = _Progress(rehashed, hasher, asyncio.Lock())
        self._progress[upload_id] = progress
        return progress

    async def _receive(
        self,
        upload_id: str,
        progress: _Progress,
        body: AsyncIterator[bytes],
        length: int | None = None,
    ) -> None:
        """Hash and stage the body; the next chunk is received while the last is hashed
        and written (in worker threads, side by side: hashlib releases the GIL on large
        buffers), so the socket never waits for the disk. With ``length`` (a chunked body's
        Content-Range), a body of another size is read no further than one chunk past it,
        undone and refused."""
        writer = await self._store.open_upload(upload_id)
        before = progress.size, progress.hasher.copy()
        mismatch = False
        in_flight: asyncio.Future[Any] | None = None
        try:
            async for chunk in body:
                if length is not None and progress.size + len(chunk) - before[0] > length:
                    mismatch = True
                    break
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.gather(
                    writer.write(chunk), asyncio.to_thread(progress.hasher.update, chunk)
                )
                progress.size += len(chunk)
            if in_flight is not None:
                await in_flight
            mismatch = mismatch or (length is not None and progress.size - before[0] != length)
        except BaseException:
            # The staged file and the hash may disagree now: rebuild on next use.
            self._progress.pop(upload_id, None)
            if in_flight is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(in_flight)  # no write may land after the close
            await writer.close()
            raise
        if not mismatch:
            await writer.close()
            return
        try:
            await writer.abandon()
        except BaseException:
            self._progress.pop(upload_id, None)
            raise
        progress.size, progress.hasher = before
        raise RegistryError(
            ErrorCode.RANGE_INVALID,
            f"the body is not the {length} bytes its Content-Range announces",
        )

    async def _verify(self, upload_id: str, progress: _Progress, digest: Digest) -> None:
        if digest.algorithm == STREAMING_ALGORITHM:
            actual = progress.hasher.copy().hexdigest()
        else:
            hasher = hashlib.new(digest.algorithm)
            async for chunk in self._store.read_upload(upload_id):
                await asyncio.to_thread(hasher.update, chunk)
            actual = hasher.hexdigest()
        if actual != digest.hex:
            raise RegistryError(
                ErrorCode.DIGEST_INVALID,
                detail={"expected": str(digest), "actual": f"{digest.algorithm}:{actual}"},
            )

    # -- housekeeping --------------------------------------------------------

    async def expire(self, older_than: float) -> int:
        """Drop uploads untouched since ``older_than`` (unix time); how many."""
        expired = 0
        async for upload_id, modified in self._store.list_uploads():
            progress = self._progress.get(upload_id)
            if modified >= older_than or (progress is not None and progress.lock.locked()):
                continue
            await self._discard(upload_id)
            expired += 1
        async with self._db.write() as conn:
            # Sessions whose staged bytes are gone (for instance after a crash).
            stale = (
                await conn.scalars(sa.select(uploads.c.id).where(uploads.c.created_at < older_than))
            ).all()
            for upload_id in stale:
                if await self._store.upload_size(upload_id) is None:
                    self._forget(upload_id)
                    await conn.execute(sa.delete(uploads).where(uploads.c.id == upload_id))
                    expired += 1
        if expired:
            log.info("expired %d stale upload(s)", expired)
        return expired

    async def sweep_orphans(self, grace: float) -> int:
        """At start-up: delete staged files that no upload session owns (monolithic uploads
        and sessions that died with a crash), untouched for ``grace`` seconds; how many.

        One regd owns a SQLite database, so nothing is in flight at its start (grace 0); on
        PostgreSQL another replica may be receiving a monolithic upload (no session row)."""
        async with self._db.read() as conn:
            owned = set((await conn.scalars(sa.select(uploads.c.id))).all())
        cutoff = now() - grace
        removed = 0
        async for upload_id, modified in self._store.list_uploads():
            if upload_id in owned or upload_id in self._progress or modified > cutoff:
                continue
            await self._store.delete_upload(upload_id)
            removed += 1
        if removed:
            log.info("removed %d staged upload file(s) of no upload session", removed)
        return removed


class UploadOutOfOrder(RegistryError):
    """A chunk that does not start where the upload ends (RANGE_INVALID), with the size the
    upload has: the HTTP layer tells the client where to resume (``Location``, ``Range``)."""

    def __init__(self, upload_id: str, size: int) -> None:
        super().__init__(ErrorCode.RANGE_INVALID, f"chunk must start at offset {size}")
        self.upload_id = upload_id
        self.size = size
