"""One upstream blob download, shared by every client that asks for the blob meanwhile.

The bytes go three ways at once, each at its own pace:

- to the clients, from memory, as soon as each chunk arrives from the upstream;
- through the digest, in a worker thread;
- into a staging file, in a worker thread; committed (fsync + rename) once verified.

Clients get every byte but the last as it arrives; the last one only once the digest has
matched, so a corrupt upstream blob is never completely served (nor cached). The commit's
fsync happens after that: a client does not wait for the disk.

Memory stays bounded: a chunk leaves memory once hashed, staged and ``WINDOW`` chunks
behind the newest; a client that falls further behind reads the staging file (or the
committed blob). Bytes received but not yet hashed and staged count against one
:class:`MemoryBudget` shared by all fetches (setting ``pullthrough_memory``):

- staging waits until the upstream body is in, or the budget is half used: on a busy
  machine the cache write competes with the clients for CPU, and writing fresh page cache
  is the slowest part of a cold pull (measured in docs/performance.md);
- reading from the upstream waits while the budget is spent and this fetch is ``FLOOR``
  bytes ahead of its staging; every fetch may always run ``FLOOR`` ahead, so none starves.

All fetches share one condition: a change in one (budget freed) may let another go on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Final

import aiohttp

from regd.registry.names import Digest
from regd.storage import BlobStore

log = logging.getLogger(__name__)

CHUNK: Final = 1 << 20
#: Chunks kept in memory behind the newest for clients a little behind.
WINDOW: Final = 16
#: Bytes received and not yet hashed and staged, across all fetches, before fetches slow
#: down to their disk's pace.
MEMORY_BUDGET: Final = 512 * CHUNK
#: How far every fetch may run ahead of its disk writes, whatever the budget.
FLOOR: Final = 16 * CHUNK


class MemoryBudget:
    """Upstream bytes held in memory until hashed and staged, summed over all fetches."""

    def __init__(self, limit: int = MEMORY_BUDGET) -> None:
        self.limit = limit
        self.used = 0
        #: Shared by every fetch: a change in one may let another go on.
        self.changed = asyncio.Condition()


class FetchFailed(ConnectionAbortedError):
    """The upstream body was cut, corrupt, or could not be staged."""


async def _whole_chunks(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The body in CHUNK pieces (the last one shorter): chunk ``i`` starts at ``i * CHUNK``."""
    while True:
        try:
            yield await content.readexactly(CHUNK)
        except asyncio.IncompleteReadError as end:
            if end.partial:
                yield end.partial
            return


class BlobFetch:
    """The state of one download; :meth:`run` drives it, :meth:`follow` reads it."""

    def __init__(
        self, store: BlobStore, digest: Digest, size: int, upload_id: str, budget: MemoryBudget
    ) -> None:
        self.digest = digest
        self.size = size
        self.upload_id = upload_id
        self._store = store
        self._chunks: dict[int, bytes] = {}
        #: Chunks below this index have left memory (they are staged).
        self._first_kept = 0
        self._received = 0
        self._hashed = 0
        self._staged = 0
        self._budget = budget
        #: Received bytes no longer counted against the budget.
        self._settled = 0
        self._upstream_done = False
        self._verified = False
        self._failed: str | None = None
        self._changed = budget.changed
        #: Set when the fetch is over: blob committed and linked, or failed.
        self.done = asyncio.Event()

    @property
    def received(self) -> int:
        """Bytes received from the upstream so far."""
        return self._received

    # -- driving -------------------------------------------------------------

    async def run(
        self, response: aiohttp.ClientResponse, on_committed: Callable[[], Awaitable[None]]
    ) -> bool:
        """Download, hash, stage and commit; then ``on_committed``. True when cached."""
        hashing = asyncio.create_task(self._guard(self._hash))
        staging = asyncio.create_task(self._guard(self._stage))
        try:
            try:
                async with response:
                    await self._receive(response)
                await hashing
            except BaseException as error:
                await self._abandon([hashing, staging], error)
                if not isinstance(error, Exception):
                    raise
                return False
            # Verified: clients may have the last byte while the disk catches up.
            await self._set_verified()
            try:
                await staging
                await self._store.commit_upload(
                    self.upload_id, self.digest.algorithm, self.digest.hex
                )
                await on_committed()
            except Exception as error:
                # Clients got the verified bytes; the staged file is left to the upload
                # sweeper, so clients still reading it can finish.
                log.warning("pulled-through %s was served but not cached: %s", self.digest, error)
                return False
            return True
        finally:
            async with self._changed:
                self._budget.used -= self._received - self._settled
                self._settled = self._received
                self._changed.notify_all()
            self.done.set()

    async def _guard(self, work: Callable[[], Awaitable[None]]) -> None:
        """A worker's failure stops the whole fetch (the others wait on its progress)."""
        try:
            await work()
        except Exception as error:
            await self._fail(str(error) or type(error).__name__)
            raise

    async def _abandon(self, workers: list[asyncio.Task[None]], error: BaseException) -> None:
        if isinstance(error, Exception):
            log.warning("pull-through of %s failed: %s", self.digest, error)
        await self._fail(str(error) or type(error).__name__)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self._store.delete_upload(self.upload_id)

    async def _receive(self, response: aiohttp.ClientResponse) -> None:
        index = 0
        async for chunk in _whole_chunks(response.content):
            async with self._changed:
                if self._failed is not None:
                    raise FetchFailed(self._failed)
                self._chunks[index] = chunk
                self._received += len(chunk)
                self._budget.used += len(chunk)
                self._changed.notify_all()
                await self._changed.wait_for(self._may_receive)
            index += 1
        async with self._changed:
            self._upstream_done = True
            self._changed.notify_all()
        if self._received != self.size:
            raise FetchFailed(f"upstream blob {self.digest} is truncated")

    def _may_receive(self) -> bool:
        ahead = self._received - min(self._hashed, self._staged)
        budget = self._budget
        return self._failed is not None or ahead < FLOOR or budget.used < budget.limit

    async def _next_chunk(self, position: int) -> bytes | None:
        """The chunk at byte ``position`` once received; None at the end of the body."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: self._failed is not None or self._received > position or self._upstream_done
            )
            if self._failed is not None:
                raise FetchFailed(self._failed)
            return self._chunks.get(position // CHUNK) if self._received > position else None

    async def _hash(self) -> None:
        hasher = hashlib.new(self.digest.algorithm)
        while (chunk := await self._next_chunk(self._hashed)) is not None:
            await asyncio.to_thread(hasher.update, chunk)
            async with self._changed:
                self._hashed += len(chunk)
                self._release()
                self._changed.notify_all()
        if hasher.hexdigest() != self.digest.hex:
            raise FetchFailed(f"upstream blob {self.digest} does not match its digest")

    def _may_stage(self) -> bool:
        budget = self._budget
        return self._failed is not None or self._upstream_done or budget.used >= budget.limit // 2

    async def _stage(self) -> None:
        async with self._changed:
            await self._changed.wait_for(self._may_stage)
        writer = await self._store.open_upload(self.upload_id)
        try:
            while (chunk := await self._next_chunk(self._staged)) is not None:
                await writer.write(chunk)
                async with self._changed:
                    self._staged += len(chunk)
                    self._release()
                    self._changed.notify_all()
        finally:
            await writer.close()

    def _release(self) -> None:
        """Settle what is hashed and staged; drop chunks far enough behind the newest."""
        settled = min(self._hashed, self._staged)
        self._budget.used -= settled - self._settled
        self._settled = settled
        done = settled // CHUNK
        newest = self._received // CHUNK
        while self._first_kept < min(done, newest - WINDOW):
            self._chunks.pop(self._first_kept, None)
            self._first_kept += 1

    async def _set_verified(self) -> None:
        async with self._changed:
            self._verified = True
            self._changed.notify_all()

    async def _fail(self, reason: str) -> None:
        async with self._changed:
            self._failed = self._failed or reason
            self._changed.notify_all()

    # -- following -----------------------------------------------------------

    def _aborted(self) -> bool:
        """Failed before the digest matched (later failures only stop the caching)."""
        return self._failed is not None and not self._verified

    def _can_advance(self, offset: int) -> bool:
        return self._aborted() or self._sendable() > offset

    def _sendable(self) -> int:
        """How far clients may read: all once verified, else all but the last byte."""
        return self.size if self._verified else min(self._received, self.size - 1)

    async def follow(self) -> AsyncIterator[bytes]:
        """The blob's bytes as they arrive; raises :class:`FetchFailed` if the fetch fails."""
        offset = 0
        while offset < self.size:
            async with self._changed:
                await self._changed.wait_for(partial(self._can_advance, offset))
                if self._aborted():
                    raise FetchFailed(str(self._failed))
                limit = self._sendable()
            while offset < limit:
                index = offset // CHUNK
                chunk = self._chunks.get(index)
                if chunk is None:
                    end = min(limit, self._first_kept * CHUNK)
                    async for piece in self._read_stored(offset, end):
                        offset += len(piece)
                        yield piece
                    continue
                start, end = offset - index * CHUNK, min(len(chunk), limit - index * CHUNK)
                piece = chunk if start == 0 and end == len(chunk) else chunk[start:end]
                offset += len(piece)
                yield piece

    async def _read_stored(self, offset: int, end: int) -> AsyncIterator[bytes]:
        """Bytes that left memory: from the staging file, or the blob once committed."""
        remaining = end - offset
        try:
            source = self._store.read_upload(self.upload_id, offset)
            async for chunk in source:
                piece = chunk[:remaining]
                remaining -= len(piece)
                yield piece
                if remaining <= 0:
                    return
        except FileNotFoundError:
            pass  # committed (renamed) meanwhile: the rest is in the blob
        if remaining > 0:
            digest = self.digest
            async for chunk in self._store.read(
                digest.algorithm, digest.hex, end - remaining, remaining
            ):
                yield chunk
