"""The filesystem driver's group commit (regd/storage/commits.py) on real files, and many
pushes finishing at once over HTTP: each blob whole, in place, its staged file gone."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from pathlib import Path
from typing import Any

import httpx

from regd.storage.commits import Committer, commit_batch
from tests.support.oci import blob_path, digest_of
from tests.support.server import RegdProcess


def _staged(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(data)
    return path


def test_a_batch_commits_every_file_and_one_failure_stops_only_its_own(tmp_path: Path) -> None:
    staged = [_staged(tmp_path / "uploads", f"u{i}", os.urandom(1000 + i)) for i in range(3)]
    contents = [path.read_bytes() for path in staged]
    targets = [tmp_path / "blobs" / f"{i:02x}" / f"blob{i}" for i in range(3)]
    staged[1].unlink()  # gone before its commit: FileNotFoundError for that one only

    errors = commit_batch(list(zip(staged, targets, strict=True)))

    assert errors[0] is None
    assert errors[2] is None
    assert isinstance(errors[1], FileNotFoundError)
    assert targets[0].read_bytes() == contents[0]
    assert targets[2].read_bytes() == contents[2]
    assert not targets[1].exists()
    assert not any(path.exists() for path in staged)


class _CountingExecutor(ThreadPoolExecutor):
    """A real thread pool that counts the jobs it is given."""

    def __init__(self) -> None:
        super().__init__(4)
        self.jobs = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.jobs += 1
        return super().submit(fn, *args, **kwargs)


def test_commits_arriving_together_share_batches(tmp_path: Path) -> None:
    count = 40
    staged = [_staged(tmp_path / "uploads", f"u{i}", os.urandom(4096)) for i in range(count)]
    targets = [tmp_path / "blobs" / f"{i % 7:02x}" / f"blob{i}" for i in range(count)]
    executor = _CountingExecutor()

    async def commit_all() -> None:
        committer = Committer(executor)
        pairs = zip(staged, targets, strict=True)
        await asyncio.gather(*(committer.commit(path, target) for path, target in pairs))

    try:
        asyncio.run(commit_all())
    finally:
        executor.shutdown()
    assert all(target.is_file() for target in targets)
    assert not any(path.exists() for path in staged)
    # All 40 were waiting before the first batch started: one batch (one job) for all.
    assert executor.jobs == 1


def test_many_pushes_finishing_at_once_are_each_stored_whole(
    regd: RegdProcess, http: httpx.Client
) -> None:
    blobs = [os.urandom(256 * 1024) + bytes([i]) for i in range(24)]

    def push(data: bytes) -> int:
        with regd.client() as client:
            response = client.post(
                "/v2/concurrent/commits/blobs/uploads/",
                params={"digest": digest_of(data)},
                content=data,
            )
            return response.status_code

    staged_before = set((regd.data_dir / "uploads").iterdir())  # the shared regd's sessions
    with ThreadPoolExecutor(len(blobs)) as pool:
        futures = [pool.submit(push, data) for data in blobs]
        wait_futures(futures)
    assert [future.result() for future in futures] == [201] * len(blobs)
    for data in blobs:
        assert blob_path(regd.data_dir, digest_of(data)).read_bytes() == data
        assert http.get(f"/v2/concurrent/commits/blobs/{digest_of(data)}").content == data
    assert set((regd.data_dir / "uploads").iterdir()) <= staged_before  # none of ours left
