"""Group commit for the filesystem driver: staged files made durable blobs in batches.

Committing one staged file costs a flush of its data and a journal commit of the
filesystem (on ext4 and XFS the journal is global: one commit covers every change made
before it). Committed one by one from a few worker threads, 50 uploads finishing together
cost 50 journal commits in turn. The :class:`Committer` takes every commit that arrives
while a batch is being synced into the next batch, and for a batch:

1. starts writeback of every file (``sync_file_range``; data already written back while
   it was received costs nothing more),
2. fsyncs every file (the first waits for the journal commit, which then covers the
   others' allocations too, so the rest mostly find their data on disk),
3. renames each into place,
4. fsyncs each directory a rename went into (the first commits the journal holding every
   rename of the batch; the others find nothing left to do).

Each file is on stable storage before its rename, and each rename before its caller is
answered: a crash at any point leaves either no blob or a complete, verified one.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

#: The most commits synced together (bounds the open file descriptors of one batch).
MAX_BATCH: Final = 256
_SYNC_FILE_RANGE_WRITE: Final = 2  # <linux/fs.h>


@dataclass(slots=True)
class _Commit:
    staged: Path
    target: Path
    done: asyncio.Future[None] = field(repr=False)


class Committer:
    """Commits staged files to their blob paths, grouping the fsyncs of concurrent ones."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._pending: list[_Commit] = []
        self._draining: asyncio.Task[None] | None = None

    async def commit(self, staged: Path, target: Path) -> None:
        """Make ``staged`` the file ``target`` (which must not exist), durably."""
        loop = asyncio.get_running_loop()
        entry = _Commit(staged, target, loop.create_future())
        self._pending.append(entry)
        if self._draining is None:
            self._draining = loop.create_task(self._drain())
        await entry.done  # cancelled: the batch still commits it (GC frees it unlinked)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                errors = await loop.run_in_executor(
                    self._executor, commit_batch, [(c.staged, c.target) for c in batch]
                )
                for entry, error in zip(batch, errors, strict=True):
                    if entry.done.done():  # its request was cancelled
                        continue
                    if error is None:
                        entry.done.set_result(None)
                    else:
                        entry.done.set_exception(error)
        except BaseException as error:  # the loop is closing: nobody waits any more
            for entry in self._pending:
                if not entry.done.done():
                    entry.done.set_exception(error)
            raise
        finally:
            self._draining = None


def commit_batch(items: list[tuple[Path, Path]]) -> list[BaseException | None]:
    """Sync, rename and sync the directories of ``(staged, target)`` pairs (in a worker
    thread); per pair, None or the error that stopped it (the others go on)."""
    errors: list[BaseException | None] = [None] * len(items)
    fds: dict[int, int] = {}
    try:
        for index, (staged, _) in enumerate(items):
            try:
                fds[index] = os.open(staged, os.O_RDONLY)
                start_writeback(fds[index])
            except OSError as error:
                errors[index] = error
        for index, fd in fds.items():
            try:
                os.fsync(fd)
            except OSError as error:
                errors[index] = error
    finally:
        for fd in fds.values():
            os.close(fd)
    directories: dict[Path, list[int]] = {}
    for index, (staged, target) in enumerate(items):
        if errors[index] is not None:
            continue
        try:
            os.utime(staged)  # fresh as of the commit, not of the last chunk received
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        except OSError as error:
            errors[index] = error
        else:
            directories.setdefault(target.parent, []).append(index)
    for directory, indexes in directories.items():
        try:
            _fsync_directory(directory)
        except OSError as error:
            for index in indexes:
                errors[index] = error
    return errors


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def start_writeback(fd: int, offset: int = 0, length: int = 0) -> None:
    """Ask the kernel to start writing ``length`` bytes at ``offset`` (0: to the end) of
    ``fd`` to disk without waiting for them: the fsync that follows has less to wait for.
    Linux's ``sync_file_range(SYNC_FILE_RANGE_WRITE)``; elsewhere nothing (the fsync does
    it all). It never makes anything durable by itself."""
    call = _sync_file_range()
    if call is not None:
        call(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # a failure here changes nothing


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], Any] | None:
    """libc's sync_file_range (ctypes is loaded only when a first upload is written)."""
    try:
        import ctypes

        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function
