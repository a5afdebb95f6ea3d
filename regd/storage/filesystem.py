"""The embedded default driver: blobs as files under a data directory.

Layout::

    ROOT/blobs/<algorithm>/<first two hex>/<hex>   committed, immutable blobs
    ROOT/uploads/<upload id>                      staged uploads in flight
    ROOT/trash/<hex>.<random>                     a blob being removed (for an instant)

A commit fsyncs the staged file once and renames it into place, so a blob path
only ever holds complete, verified content, even after a crash.

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
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, Final

from regd.storage.pins import Pins

READ_CHUNK: Final = 1 << 20
#: File times come from the kernel's coarse clock, a tick behind ``time.time()``.
CLOCK_TICK: Final = 0.05


class _FileUploadWriter:
    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._opened_at = file.tell()

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self._file.write, data)

    async def close(self) -> None:
        await asyncio.to_thread(self._file.close)

    async def abandon(self) -> None:
        def truncate_and_close() -> None:
            with self._file:
                self._file.flush()
                self._file.truncate(self._opened_at)

        await asyncio.to_thread(truncate_and_close)


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

    # -- blobs ---------------------------------------------------------------

    def _blob_path(self, algorithm: str, hexdigest: str) -> Path:
        return self._blobs / algorithm / hexdigest[:2] / hexdigest

    async def stat(self, algorithm: str, hexdigest: str) -> int | None:
        return await asyncio.to_thread(_size, self._blob_path(algorithm, hexdigest))

    def local_path(self, algorithm: str, hexdigest: str) -> Path | None:
        return self._blob_path(algorithm, hexdigest)

    async def read(
        self, algorithm: str, hexdigest: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        async for chunk in _read_file(self._blob_path(algorithm, hexdigest), offset, length):
            yield chunk

    async def delete(self, algorithm: str, hexdigest: str) -> bool:
        try:
            await asyncio.to_thread(self._blob_path(algorithm, hexdigest).unlink)
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
            await asyncio.to_thread(os.utime, self._blob_path(algorithm, hexdigest))
        except FileNotFoundError:
            self.unpin(algorithm, hexdigest)
            return False
        return True

    async def remove(self, algorithm: str, hexdigest: str, fresh_since: float) -> int | None:
        path = self._blob_path(algorithm, hexdigest)
        moved = self._trash / f"{hexdigest}.{uuid.uuid4().hex}"
        try:
            await asyncio.to_thread(os.rename, path, moved)
        except FileNotFoundError:
            return 0
        # Nobody can touch `moved` any more: what it says now stays true.
        stat = await asyncio.to_thread(moved.stat)
        if self._pinned(algorithm, hexdigest) or stat.st_mtime >= fresh_since - CLOCK_TICK:
            await asyncio.to_thread(_put_back, moved, path)
            return None
        await asyncio.to_thread(moved.unlink)
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

        return await asyncio.to_thread(purge)

    async def list_blobs(self) -> AsyncIterator[tuple[str, str]]:
        for algorithm_dir in await asyncio.to_thread(_entries, self._blobs):
            for prefix in await asyncio.to_thread(_entries, algorithm_dir):
                for blob in await asyncio.to_thread(_entries, prefix):
                    yield algorithm_dir.name, blob.name

    # -- uploads -------------------------------------------------------------

    def _upload_path(self, upload_id: str) -> Path:
        if not upload_id or "/" in upload_id or upload_id.startswith("."):
            raise ValueError("invalid upload id")
        return self._uploads / upload_id

    async def create_upload(self, upload_id: str) -> None:
        await asyncio.to_thread(self._upload_path(upload_id).touch, exist_ok=False)

    async def upload_size(self, upload_id: str) -> int | None:
        return await asyncio.to_thread(_size, self._upload_path(upload_id))

    async def open_upload(self, upload_id: str) -> _FileUploadWriter:
        path = self._upload_path(upload_id)
        return _FileUploadWriter(await asyncio.to_thread(_open_at_end, path))

    async def read_upload(self, upload_id: str, offset: int = 0) -> AsyncIterator[bytes]:
        async for chunk in _read_file(self._upload_path(upload_id), offset, None):
            yield chunk

    async def commit_upload(self, upload_id: str, algorithm: str, hexdigest: str) -> None:
        staged = self._upload_path(upload_id)
        self._pin(algorithm, hexdigest)  # before looking at the blob path: see remove()
        try:
            await asyncio.to_thread(self._commit, staged, algorithm, hexdigest)
        except BaseException:
            self.unpin(algorithm, hexdigest)
            raise

    def _commit(self, staged: Path, algorithm: str, hexdigest: str) -> None:
        target = self._blob_path(algorithm, hexdigest)
        try:
            os.utime(target)  # same content already stored: keep that file, marked fresh
        except FileNotFoundError:
            pass
        else:
            staged.unlink(missing_ok=True)
            return
        fd = os.open(staged, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.utime(staged)  # fresh as of the commit, not of the last chunk received
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)

    async def delete_upload(self, upload_id: str) -> None:
        await asyncio.to_thread(self._upload_path(upload_id).unlink, missing_ok=True)

    async def list_uploads(self) -> AsyncIterator[tuple[str, float]]:
        for name, modified in await asyncio.to_thread(_modified_times, self._uploads):
            yield name, modified


# Filesystem calls run in worker threads (asyncio.to_thread): one slow disk, or an NFS
# mount that hangs, must not stall every request on the event loop.


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


def _put_back(moved: Path, path: Path) -> None:
    """Undo a removal; when a commit stored the same bytes meanwhile, keep those."""
    with contextlib.suppress(FileExistsError):
        os.link(moved, path)
    moved.unlink()


async def _read_file(path: Path, offset: int, length: int | None) -> AsyncIterator[bytes]:
    with await asyncio.to_thread(open, path, "rb") as file:
        await asyncio.to_thread(file.seek, offset)
        remaining = length
        while remaining is None or remaining > 0:
            size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
            chunk = await asyncio.to_thread(file.read, size)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
