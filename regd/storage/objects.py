"""Blobs in an object store (S3, Swift): one :class:`BlobStore` over a small backend.

Layout under the location's prefix::

    blobs/<algorithm>/<hex>          committed, immutable blobs
    uploads/<upload id>              an upload in flight: JSON list of its parts' sizes
                                     (being committed: {"sizes": [...], "blob": key})
    segments/<upload id>/<nnnnnn>    the staged parts of that upload
    fresh/<algorithm>/<hex>/<ms>-<r> the blob was committed or pinned at <ms> (unix time,
                                     milliseconds); a new mark each time, never rewritten

Everything an upload needs lives in the object store, so a chunked upload can continue
on any replica. A writer stores up to :data:`PARTS_IN_FLIGHT` parts (:data:`PART_SIZE`)
at once while it fills the next one, so it holds at most ``PARTS_IN_FLIGHT + 1`` parts in
memory; when it closes, the tail it holds is stored as a part of its own, and the next
writer of the upload takes a tail shorter than :data:`MIN_PART` back and rewrites it as it
grows, so every part but the last is at least 5 MiB (S3's multipart rule). The upload's
record is written when a writer closes (one request, not one per part) and only ever
lists bytes that are stored: a writer that fails or dies leaves the record of the last
close, and parts past it are overwritten when the upload goes on from there.

Commit joins the parts into ``blobs/<algorithm>/<hex>`` in one atomic step (Swift: a
static large object manifest over the segments; S3: a multipart upload copying them
server-side): the blob key never holds half an object.

Leftovers of a crash: an upload's record goes last (its parts are deleted first), and a
commit names its blob in the record before joining the parts, so a record always says
which parts may be deleted: all of them, but those the blob it names uses (Swift: the
static large object's segments). ``uploads/…`` of no upload session are deleted by the
registry's sweeps (:meth:`delete_upload`); :meth:`purge_removed` (garbage collection, and
at start-up) drops fresh marks older than the grace and aborts S3 multipart uploads of
commits that died. Marks are never rewritten, so dropping an old one never drops the new
one a commit is writing at the same moment.

Removal (garbage collection) against commit and mount: there is no rename, so both sides
use the digest's lock in the metadata database (given as ``lock``). :meth:`remove` runs
with the lock held and keeps the blob when ``fresh/…`` is recent. Commit and :meth:`pin`
write ``fresh/…``, then pass through the lock, then look at the blob: either a removal
held the lock first (it has deleted when they pass, so they see no blob and store their
own bytes) or it takes the lock after them and reads their mark. No object-store request
is made while they hold the lock (with SQLite it is the database's one writer lock).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Final, Protocol

from regd.storage.pins import Pins

#: Bytes a writer holds before it stores them as one part.
PART_SIZE: Final = 8 << 20
#: Parts one writer stores at once (the store's latency overlaps; memory: one more part).
PARTS_IN_FLIGHT: Final = 3
#: Parts shorter than this (S3's minimum) are taken back and rewritten by the next writer.
MIN_PART: Final = 5 << 20

DigestLock = Callable[[str], AbstractAsyncContextManager[None]]


class ObjectBackend(Protocol):
    """What :class:`ObjectStore` needs from an S3 or Swift client; keys are full keys."""

    endpoint: str

    async def head(self, key: str) -> int | None:
        """The object's size, or None when it does not exist."""

    def get(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream the object's bytes (FileNotFoundError when it does not exist)."""

    async def put(self, key: str, data: bytes) -> None: ...

    async def delete(self, key: str) -> bool: ...

    def list(self, prefix: str) -> AsyncIterator[tuple[str, float]]:
        """``(key, last-modified unix time)`` of every object whose key starts with prefix."""

    async def compose(self, key: str, parts: Sequence[tuple[str, int]]) -> None:
        """Make ``key`` the concatenation of ``parts`` (key, size) in one atomic step.

        Afterwards the parts belong to ``key``: a backend that copied them deletes them.
        """

    async def delete_composed(self, key: str) -> bool:
        """Delete an object made by :meth:`compose`, with its parts."""

    async def signed_url(self, key: str, expires: int) -> str:
        """A URL that GETs ``key`` without credentials for ``expires`` seconds."""

    async def parts_of(self, key: str) -> set[str]:
        """The keys of the parts the object made by :meth:`compose` at ``key`` still uses
        (none when it copied them, or when there is no such object)."""

    async def abort_incomplete(self, prefix: str, older_than: float) -> int:
        """Abandon composes under ``prefix`` begun before ``older_than`` that never
        finished (S3 multipart uploads); how many."""

    async def close(self) -> None: ...


class _ObjectUploadWriter:
    """Buffers a part, stores full parts in the background (up to :data:`PARTS_IN_FLIGHT`
    at once, so receiving and storing overlap), and records them when it closes."""

    def __init__(self, store: ObjectStore, upload_id: str, sizes: list[int], tail: bytes) -> None:
        self._store = store
        self._upload_id = upload_id
        self.sizes = sizes  # stored parts (never rewritten), the tail (rewritten) excluded
        self.buffer = bytearray(tail)
        #: Parts being stored, in order: their bytes and the task storing them.
        self._flights: collections.deque[tuple[bytes, asyncio.Task[None]]] = collections.deque()
        self._opened = (len(sizes), tail)  # what abandon() puts back

    def held(self) -> tuple[list[int], bytes]:
        """A consistent snapshot: the stored parts' sizes and the bytes after them."""
        in_flight = b"".join(part for part, _ in self._flights)
        return list(self.sizes), in_flight + bytes(self.buffer)

    async def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= PART_SIZE:
            if len(self._flights) >= PARTS_IN_FLIGHT:
                await self._land()
            part = bytes(self.buffer[:PART_SIZE])
            del self.buffer[:PART_SIZE]
            self._launch(part)

    def _launch(self, part: bytes) -> None:
        key = self._store.segment_key(self._upload_id, len(self.sizes) + len(self._flights))
        self._flights.append((part, asyncio.create_task(self._store.backend.put(key, part))))

    async def _land(self) -> None:
        """Wait for the oldest part in flight (raising what storing it raised)."""
        part, task = self._flights[0]
        await task
        self._flights.popleft()
        self.sizes.append(len(part))

    async def close(self) -> None:
        try:
            if self.buffer:
                self._launch(bytes(self.buffer))
                self.buffer.clear()
            while self._flights:
                await self._land()
            await self._store.save_record(self._upload_id, self.sizes)
        finally:
            for _, task in self._flights:
                task.cancel()
            for _, task in self._flights:
                with contextlib.suppress(BaseException):
                    await task
            self._store.writers.pop(self._upload_id, None)

    async def abandon(self) -> None:
        """Cancel the parts in flight, put back the short last part (a launched part takes
        its index), and delete the parts written since open. The record is written only by
        :meth:`close`, so it still lists what was there at open."""
        try:
            for _, task in self._flights:
                task.cancel()
            for _, task in self._flights:
                with contextlib.suppress(BaseException):
                    await task
            stored, tail = self._opened
            written = len(self.sizes) + len(self._flights)
            self._flights.clear()
            if tail:
                key = self._store.segment_key(self._upload_id, stored)
                await self._store.backend.put(key, tail)
            for index in range(stored + (1 if tail else 0), written):
                await self._store.backend.delete(self._store.segment_key(self._upload_id, index))
        finally:
            self._store.writers.pop(self._upload_id, None)


class ObjectStore:
    """A :class:`~regd.storage.driver.BlobStore` over an S3 or Swift backend."""

    def __init__(self, backend: ObjectBackend, prefix: str, lock: DigestLock) -> None:
        self.backend = backend
        self._prefix = f"{prefix}/" if prefix else ""
        self._lock = lock
        self._pins = Pins()  # this process's; other replicas see the fresh marks
        #: Open writers by upload id: read_upload sees the bytes they still hold.
        self.writers: dict[str, _ObjectUploadWriter] = {}

    # -- keys ----------------------------------------------------------------

    def _blob_key(self, algorithm: str, hexdigest: str) -> str:
        return f"{self._prefix}blobs/{algorithm}/{hexdigest}"

    def _fresh_key(self, algorithm: str, hexdigest: str) -> str:
        """The blob's marks: this key (a mark written before marks had names of their own)
        and the keys under it."""
        return f"{self._prefix}fresh/{algorithm}/{hexdigest}"

    def _marks(self, prefix: str) -> AsyncIterator[tuple[str, float]]:
        """Fresh marks under ``prefix``: (key, unix time marked)."""
        return _mark_times(self.backend.list(prefix))

    def _record_key(self, upload_id: str) -> str:
        if not upload_id or "/" in upload_id or upload_id.startswith("."):
            raise ValueError("invalid upload id")
        return f"{self._prefix}uploads/{upload_id}"

    def segment_key(self, upload_id: str, index: int) -> str:
        return f"{self._prefix}segments/{upload_id}/{index:06d}"

    # -- blobs ---------------------------------------------------------------

    async def stat(self, algorithm: str, hexdigest: str) -> int | None:
        return await self.backend.head(self._blob_key(algorithm, hexdigest))

    def local_path(self, algorithm: str, hexdigest: str) -> None:
        return None

    def read(
        self, algorithm: str, hexdigest: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        return self.backend.get(self._blob_key(algorithm, hexdigest), offset, length)

    async def delete(self, algorithm: str, hexdigest: str) -> bool:
        return await self.backend.delete_composed(self._blob_key(algorithm, hexdigest))

    async def redirect_url(self, algorithm: str, hexdigest: str, expires: int = 1200) -> str:
        """A presigned S3 URL or a Swift temp URL of the blob (``storage_redirect``)."""
        return await self.backend.signed_url(self._blob_key(algorithm, hexdigest), expires)

    # -- pins and removal (see the module docstring) --------------------------

    def unpin(self, algorithm: str, hexdigest: str) -> None:
        self._pins.unpin(algorithm, hexdigest)

    async def _mark_fresh(self, algorithm: str, hexdigest: str) -> int | None:
        """Mark the blob fresh; its size once no removal can take it (None: absent).

        The lock is a barrier here, held for no store round trip: every removal of the
        digest that took it before us has finished deleting when we get it, and every one
        that takes it after us reads the mark written before we took it, and keeps the
        blob. So the size looked at after the barrier is of a blob that stays (or None,
        and the caller stores its own bytes)."""
        name = f"{round(time.time() * 1000):013d}-{secrets.token_hex(4)}"
        await self.backend.put(f"{self._fresh_key(algorithm, hexdigest)}/{name}", b"")
        async with self._lock(f"{algorithm}:{hexdigest}"):
            pass
        return await self.stat(algorithm, hexdigest)

    async def pin(self, algorithm: str, hexdigest: str) -> bool:
        self._pins.pin(algorithm, hexdigest)
        try:
            stored = await self._mark_fresh(algorithm, hexdigest) is not None
        except BaseException:
            self.unpin(algorithm, hexdigest)
            raise
        if not stored:
            self.unpin(algorithm, hexdigest)
        return stored

    async def remove(self, algorithm: str, hexdigest: str, fresh_since: float) -> int | None:
        if self._pins.pinned(algorithm, hexdigest):
            return None
        marks = [mark async for mark in self._marks(self._fresh_key(algorithm, hexdigest))]
        if max((marked for _, marked in marks), default=0.0) >= fresh_since:
            return None
        size = await self.stat(algorithm, hexdigest)
        if size is None:
            return 0
        await self.backend.delete_composed(self._blob_key(algorithm, hexdigest))
        # Only the marks read above: a commit marking the blob now keeps its new mark.
        for key, _ in marks:
            await self.backend.delete(key)
        return size

    async def purge_removed(self, older_than: float) -> int:
        """Removal deletes at once; this drops fresh marks made before ``older_than`` (they
        protect nothing from a collection with that cutoff or a later one) and aborts S3
        multipart uploads of commits begun before it (a crash mid-commit)."""
        async for key, marked in self._marks(f"{self._prefix}fresh/"):
            if marked < older_than:
                await self.backend.delete(key)
        await self.backend.abort_incomplete(f"{self._prefix}blobs/", older_than)
        return 0

    async def list_blobs(self) -> AsyncIterator[tuple[str, str]]:
        start = len(self._prefix) + len("blobs/")
        async for key, _ in self.backend.list(f"{self._prefix}blobs/"):
            algorithm, _, hexdigest = key[start:].partition("/")
            if algorithm and hexdigest and "/" not in hexdigest:
                yield algorithm, hexdigest

    # -- uploads -------------------------------------------------------------

    async def _get_small(self, key: str) -> bytes | None:
        """A small object (a record, a fresh mark) whole; None when it does not exist."""
        try:
            return b"".join([chunk async for chunk in self.backend.get(key)])
        except FileNotFoundError:
            return None

    async def save_record(
        self, upload_id: str, sizes: Sequence[int], blob: str | None = None
    ) -> None:
        """The upload's parts; ``blob``: the key a commit is joining them into."""
        record: object = list(sizes) if blob is None else {"sizes": list(sizes), "blob": blob}
        await self.backend.put(self._record_key(upload_id), json.dumps(record).encode())

    async def _record_and_blob(self, upload_id: str) -> tuple[list[int], str | None] | None:
        raw = await self._get_small(self._record_key(upload_id))
        if raw is None:
            return None
        record = json.loads(raw)
        if isinstance(record, dict):
            return [int(size) for size in record["sizes"]], str(record["blob"])
        return [int(size) for size in record], None

    async def _record(self, upload_id: str) -> list[int] | None:
        found = await self._record_and_blob(upload_id)
        return None if found is None else found[0]

    async def create_upload(self, upload_id: str) -> None:
        await self.save_record(upload_id, [])

    async def upload_size(self, upload_id: str) -> int | None:
        writer = self.writers.get(upload_id)
        if writer is not None:
            sizes, held = writer.held()
            return sum(sizes) + len(held)
        record = await self._record(upload_id)
        return None if record is None else sum(record)

    async def open_upload(self, upload_id: str) -> _ObjectUploadWriter:
        sizes = await self._record(upload_id)
        if sizes is None:
            raise FileNotFoundError(f"upload {upload_id} does not exist")
        tail = b""
        if sizes and sizes[-1] < MIN_PART:
            key = self.segment_key(upload_id, len(sizes) - 1)
            tail = b"".join([chunk async for chunk in self.backend.get(key, 0, sizes[-1])])
            sizes.pop()
        writer = _ObjectUploadWriter(self, upload_id, sizes, tail)
        self.writers[upload_id] = writer
        return writer

    async def read_upload(self, upload_id: str, offset: int = 0) -> AsyncIterator[bytes]:
        """The stored parts, then (an upload being written here) the bytes its writer holds,
        from one snapshot: parts it lists are never rewritten."""
        writer = self.writers.get(upload_id)
        if writer is not None:
            sizes, held = writer.held()
        else:
            record = await self._record(upload_id)
            if record is None:
                raise FileNotFoundError(f"upload {upload_id} does not exist")
            sizes, held = record, b""
        start = 0
        for index, size in enumerate(sizes):
            if offset < start + size:
                skip = max(offset - start, 0)
                key = self.segment_key(upload_id, index)
                async for chunk in self.backend.get(key, skip, size - skip):
                    yield chunk
            start += size
        if offset < start + len(held):
            yield held[max(offset - start, 0) :]

    async def commit_upload(self, upload_id: str, algorithm: str, hexdigest: str) -> None:
        sizes = await self._record(upload_id)
        if sizes is None:
            raise FileNotFoundError(f"upload {upload_id} does not exist")
        self._pins.pin(algorithm, hexdigest)
        try:
            stored = await self._mark_fresh(algorithm, hexdigest)
            if stored is not None:  # same content already stored: keep that copy
                await self.delete_upload(upload_id)
                return
            parts = [(self.segment_key(upload_id, i), size) for i, size in enumerate(sizes)]
            blob = self._blob_key(algorithm, hexdigest)
            await self.save_record(upload_id, sizes, blob)  # a crash from here: see delete_upload
            await self.backend.compose(blob, parts)
            await self.backend.delete(self._record_key(upload_id))
        except BaseException:
            self.unpin(algorithm, hexdigest)
            raise

    async def delete_upload(self, upload_id: str) -> None:
        """The upload's parts, then its record. Without a record the upload was committed
        (its parts may be the blob's now) or is gone already; with a record naming a blob
        (a commit that did not finish), the parts that blob uses stay."""
        found = await self._record_and_blob(upload_id)
        if found is None:
            return
        keep = set() if found[1] is None else await self.backend.parts_of(found[1])
        async for key, _ in self.backend.list(f"{self._prefix}segments/{upload_id}/"):
            if key not in keep:
                await self.backend.delete(key)
        await self.backend.delete(self._record_key(upload_id))

    async def list_uploads(self) -> AsyncIterator[tuple[str, float]]:
        start = len(self._prefix) + len("uploads/")
        async for key, modified in self.backend.list(f"{self._prefix}uploads/"):
            upload_id = key[start:]
            if upload_id and "/" not in upload_id:
                yield upload_id, modified

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.shield(self.backend.close())


async def _mark_times(
    listing: AsyncIterator[tuple[str, float]],
) -> AsyncIterator[tuple[str, float]]:
    """(key, unix time) of fresh marks: from the name (``<ms>-<random>``), or the object's
    last-modified time for a mark from before marks had names."""
    async for key, modified in listing:
        stamp = key.rpartition("/")[2].partition("-")[0]
        yield key, int(stamp) / 1000 if len(stamp) == 13 and stamp.isdigit() else modified
