"""The embedded default driver: blobs as files under a data directory.

Layout::

    ROOT/blobs/<algorithm>/<first two hex>/<hex>   committed, immutable blobs
    ROOT/uploads/<upload id>                      staged uploads in flight
    ROOT/trash/<hex>.<random>                     a blob being removed (for an instant)

A commit fsyncs the staged file, renames it into place and fsyncs the directory, so a
blob path only ever holds complete, verified content, even after a crash; commits that
arrive together share their fsyncs (regd/storage/commits.py). Every filesystem call runs in
the driver's own thread pool (``IO_THREADS``): 50 uploads in flight must not queue behind
the event loop's default pool of a few threads, nor block what else uses that pool.

Removal (garbage collection, cache eviction) must never win against a commit or a mount of
the same digest that is about to link it. Both sides touch the blob path in an order that
makes one of them see the other:

- commit and :meth:`pin` first pin the digest (in memory) and mark the file fresh (its
  mtime, which another process sees), then look at the blob path; when it is gone they
  store their own bytes (commit) or report the blob missing (pin);
- :meth:`remove` first renames the blob path away (atomic), then looks at the pin and the
  mtime of the file it moved: if either is recent it puts the file back, else deletes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Final, ParamSpec, TypeVar

from regd.storage.commits import Committer, start_writeback
from regd.storage.pins import Pins

READ_CHUNK: Final = 1 << 20
#: File times come from the kernel's coarse clock, a tick behind ``time.time()``.
CLOCK_TICK: Final = 0.05
#: Worker threads of one store: enough for every upload of a busy moment to have a write
#: or a commit under way (they wait on the disk, not on the CPU).
IO_THREADS: Final = 32
#: Received bytes an upload leaves to the kernel's own writeback before starting it: a big
#: blob goes to disk while it arrives, and its commit's fsync has only the tail left.
WRITEBACK_STEP: Final = 8 << 20

_P = ParamSpec("_P")
_T = TypeVar("_T")


class _FileUploadWriter:
    def __init__(self, file: BinaryIO, store: FilesystemStore) -> None:
        self._file = file
        self._store = store
        self._opened_at = self._written_back = file.tell()

    async def write(self, data: bytes) -> None:
        await self._store.run(self._write, data)

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        end = self._file.tell()
        if end - self._written_back >= WRITEBACK_STEP:
            self._file.flush()
            start_writeback(self._file.fileno(), self._written_back, end - self._written_back)
            self._written_back = end

    async def close(self) -> None:
        await self._store.run(self._file.close)

    async def abandon(self) -> None:
        def truncate_and_close() -> None:
            with self._file:
                self._file.flush()
                self._file.truncate(self._opened_at)

        await self._store.run(truncate_and_close)


class FilesystemStore:
    """A :class:`~regd.storage.driver.BlobStore` on a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._trash = root / "trash"
        for directory in (self._blobs, self._uploads, self._trash):
            directory.mkdir(parents=True, exist_ok=True)
        self._pins = Pins()
        self._executor = ThreadPoolExecutor(IO_THREADS, thread_name_prefix="regd-fs")
        self._committer = Committer(self._executor)

    async def run(self, function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """``function`` in the store's thread pool."""
        call = functools.partial(function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    # -- blobs ---------------------------------------------------------------

    def _blob_path(self, algorithm: str, hexdigest: str) -> Path:
        return self._blobs / algorithm / hexdigest[:2] / hexdigest

    async def stat(self, algorithm: str, hexdigest: str) -> int | None:
        return await self.run(_size, self._blob_path(algorithm, hexdigest))

    def local_path(self, algorithm: str, hexdigest: str) -> Path | None:
        return self._blob_path(algorithm, hexdigest)

    async def read(
        self, algorithm: str, hexdigest: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        async for chunk in _read_file(self, self._blob_path(algorithm, hexdigest), offset, length):
            yield chunk

    async def delete(self, algorithm: str, hexdigest: str) -> bool:
        try:
            await self.run(self._blob_path(algorithm, hexdigest).unlink)
        except FileNotFoundError:
            return False
        return True

    # -- pins and removal (see the module docstring) --------------------------

    def _pin(self, algorithm: str, hexdigest: str) -> None:
        self._pins.pin(algorithm, hexdigest)

    def _pinned(self, algorithm: str, hexdigest: str) -> bool:
        return self._pins.pinned(algorithm, hexdigest)

    def unpin(self, algorithm: str, hexdigest: str) -> None:
        self._pins.unpin(algorithm, hexdigest)

    async def pin(self, algorithm: str, hexdigest: str) -> bool:
        self._pin(algorithm, hexdigest)
        try:
            await self.run(os.utime, self._blob_path(algorithm, hexdigest))
        except FileNotFoundError:
            self.unpin(algorithm, hexdigest)
            return False
        return True

    async def remove(self, algorithm: str, hexdigest: str, fresh_since: float) -> int | None:
        path = self._blob_path(algorithm, hexdigest)
        moved = self._trash / f"{hexdigest}.{uuid.uuid4().hex}"
        try:
            await self.run(os.rename, path, moved)
        except FileNotFoundError:
            return 0
        # Nobody can touch `moved` any more: what it says now stays true.
        stat = await self.run(moved.stat)
        if self._pinned(algorithm, hexdigest) or stat.st_mtime >= fresh_since - CLOCK_TICK:
            await self.run(_put_back, moved, path)
            return None
        await self.run(moved.unlink)
        return stat.st_size

    async def purge_removed(self, older_than: float) -> int:
        def purge() -> int:
            freed = 0
            for entry in self._trash.iterdir():
                stat = entry.stat()
                if stat.st_ctime < older_than:  # ctime: when remove() moved it here
                    entry.unlink(missing_ok=True)
                    freed += stat.st_size
            return freed

        return await self.run(purge)

    async def list_blobs(self) -> AsyncIterator[tuple[str, str]]:
        for algorithm_dir in await self.run(_entries, self._blobs):
            for prefix in await self.run(_entries, algorithm_dir):
                for blob in await self.run(_entries, prefix):
                    yield algorithm_dir.name, blob.name

    # -- uploads -------------------------------------------------------------

    def _upload_path(self, upload_id: str) -> Path:
        if not upload_id or "/" in upload_id or upload_id.startswith("."):
            raise ValueError("invalid upload id")
        return self._uploads / upload_id

    async def create_upload(self, upload_id: str) -> None:
        await self.run(self._upload_path(upload_id).touch, exist_ok=False)

    async def upload_size(self, upload_id: str) -> int | None:
        return await self.run(_size, self._upload_path(upload_id))

    async def open_upload(self, upload_id: str) -> _FileUploadWriter:
        path = self._upload_path(upload_id)
        return _FileUploadWriter(await self.run(_open_at_end, path), self)

    async def read_upload(self, upload_id: str, offset: int = 0) -> AsyncIterator[bytes]:
        async for chunk in _read_file(self, self._upload_path(upload_id), offset, None):
            yield chunk

    async def commit_upload(self, upload_id: str, algorithm: str, hexdigest: str) -> None:
        staged = self._upload_path(upload_id)
        target = self._blob_path(algorithm, hexdigest)
        self._pin(algorithm, hexdigest)  # before looking at the blob path: see remove()
        try:
            if not await self.run(_keep_stored, target, staged):
                await self._committer.commit(staged, target)
        except BaseException:
            self.unpin(algorithm, hexdigest)
            raise

    async def delete_upload(self, upload_id: str) -> None:
        await self.run(self._upload_path(upload_id).unlink, missing_ok=True)

    async def list_uploads(self) -> AsyncIterator[tuple[str, float]]:
        for name, modified in await self.run(_modified_times, self._uploads):
            yield name, modified


# Filesystem calls run in the store's worker threads (FilesystemStore.run): one slow disk,
# or an NFS mount that hangs, must not stall every request on the event loop.


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _entries(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def _open_at_end(path: Path) -> BinaryIO:
    file = open(path, "r+b")  # noqa: SIM115 - closed by the writer
    file.seek(0, os.SEEK_END)
    return file


def _modified_times(directory: Path) -> list[tuple[str, float]]:
    found = []
    for entry in sorted(directory.iterdir()):
        try:
            found.append((entry.name, entry.stat().st_mtime))
        except FileNotFoundError:
            continue
    return found


def _keep_stored(target: Path, staged: Path) -> bool:
    """When the same content is stored already, keep that file, marked fresh, and drop
    the staged copy: True. False: ``target`` is not there."""
    try:
        os.utime(target)
    except FileNotFoundError:
        return False
    staged.unlink(missing_ok=True)
    return True


def _put_back(moved: Path, path: Path) -> None:
    """Undo a removal; when a commit stored the same bytes meanwhile, keep those."""
    with contextlib.suppress(FileExistsError):
        os.link(moved, path)
    moved.unlink()


async def _read_file(
    store: FilesystemStore, path: Path, offset: int, length: int | None
) -> AsyncIterator[bytes]:
    with await store.run(open, path, "rb") as file:
        await store.run(file.seek, offset)
        remaining = length
        while remaining is None or remaining > 0:
            size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
            chunk = await store.run(file.read, size)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
