"""One driver suite, run unchanged over the filesystem, Swift (native) and S3 drivers.

Every test talks to a real store: files in a temporary directory, or the session's Swift
all-in-one through its native API and its S3 API (tests/support/swift.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest

from regd.storage import BlobStore
from tests.storage.conftest import StoreFactory

MiB = 1 << 20


def run(open_store: StoreFactory, test: Callable[[BlobStore], Awaitable[None]]) -> None:
    async def main() -> None:
        async with open_store() as store:
            await test(store)

    asyncio.run(main())


async def read_all(
    store: BlobStore, digest: str, offset: int = 0, length: int | None = None
) -> bytes:
    return b"".join([chunk async for chunk in store.read("sha256", digest, offset, length)])


async def staged(store: BlobStore, upload_id: str, offset: int = 0) -> bytes:
    return b"".join([chunk async for chunk in store.read_upload(upload_id, offset)])


async def append(store: BlobStore, upload_id: str, *chunks: bytes) -> None:
    writer = await store.open_upload(upload_id)
    try:
        for chunk in chunks:
            await writer.write(chunk)
    finally:
        await writer.close()


async def commit(store: BlobStore, data: bytes, *pieces: int) -> str:
    """Stage ``data`` in one writer per piece size (the rest in a last one), commit it."""
    upload_id = str(uuid.uuid4())
    await store.create_upload(upload_id)
    start = 0
    for size in pieces:
        await append(store, upload_id, data[start : start + size])
        start += size
    if start < len(data) or not pieces:
        await append(store, upload_id, data[start:])
    hexdigest = hashlib.sha256(data).hexdigest()
    await store.commit_upload(upload_id, "sha256", hexdigest)
    store.unpin("sha256", hexdigest)
    return hexdigest


def test_a_missing_blob_is_not_stored(open_store: StoreFactory) -> None:
    async def test(store: BlobStore) -> None:
        missing = "0" * 64
        assert await store.stat("sha256", missing) is None
        assert not await store.pin("sha256", missing)
        assert not await store.delete("sha256", missing)
        assert await store.remove("sha256", missing, time.time() + 10) == 0
        with pytest.raises(FileNotFoundError):
            await read_all(store, missing)
        assert await store.upload_size("no-such-upload") is None

    run(open_store, test)


def test_chunked_upload_in_several_requests_commits_the_exact_bytes(
    open_store: StoreFactory,
) -> None:
    """Writers of 1 MiB, 7 MiB, 100 bytes, 11 MiB and the rest: small tails are rewritten,
    large ones split into parts; sizes and staged bytes are right after every request."""
    data = os.urandom(21 * MiB + 12345)

    async def test(store: BlobStore) -> None:
        upload_id = str(uuid.uuid4())
        await store.create_upload(upload_id)
        assert await store.upload_size(upload_id) == 0
        start = 0
        for size in (MiB, 7 * MiB, 100, 11 * MiB, len(data)):
            piece = data[start : start + size]
            await append(store, upload_id, piece[: len(piece) // 2], piece[len(piece) // 2 :])
            start += len(piece)
            assert await store.upload_size(upload_id) == min(start, len(data))
        assert await staged(store, upload_id) == data
        assert await staged(store, upload_id, 9 * MiB + 7) == data[9 * MiB + 7 :]
        hexdigest = hashlib.sha256(data).hexdigest()
        await store.commit_upload(upload_id, "sha256", hexdigest)
        store.unpin("sha256", hexdigest)
        assert await store.upload_size(upload_id) is None
        assert await store.stat("sha256", hexdigest) == len(data)
        assert await read_all(store, hexdigest) == data
        assert await read_all(store, hexdigest, 8 * MiB - 3, 5) == data[8 * MiB - 3 : 8 * MiB + 2]
        assert await read_all(store, hexdigest, len(data) - 10) == data[-10:]
        assert ("sha256", hexdigest) in [blob async for blob in store.list_blobs()]

    run(open_store, test)


def test_an_upload_continues_on_another_store_instance(open_store: StoreFactory) -> None:
    """What another replica sees: the staged bytes, and it can append and commit them."""
    data = os.urandom(6 * MiB + 999)

    async def test(first: BlobStore) -> None:
        upload_id = str(uuid.uuid4())
        await first.create_upload(upload_id)
        await append(first, upload_id, data[: 3 * MiB])
        async with open_store() as second:
            assert await second.upload_size(upload_id) == 3 * MiB
            assert await staged(second, upload_id) == data[: 3 * MiB]
            await append(second, upload_id, data[3 * MiB :])
            hexdigest = hashlib.sha256(data).hexdigest()
            await second.commit_upload(upload_id, "sha256", hexdigest)
            second.unpin("sha256", hexdigest)
        assert await read_all(first, hexdigest) == data

    run(open_store, test)


def test_empty_and_small_blobs(open_store: StoreFactory) -> None:
    async def test(store: BlobStore) -> None:
        empty = await commit(store, b"")
        assert await store.stat("sha256", empty) == 0
        assert await read_all(store, empty) == b""
        small = await commit(store, b"tiny config", 4)
        assert await read_all(store, small) == b"tiny config"

    run(open_store, test)


def test_committing_stored_content_again_keeps_one_copy(open_store: StoreFactory) -> None:
    data = os.urandom(MiB)

    async def test(store: BlobStore) -> None:
        first = await commit(store, data)
        upload_id = str(uuid.uuid4())
        await store.create_upload(upload_id)
        await append(store, upload_id, data)
        await store.commit_upload(upload_id, "sha256", first)
        store.unpin("sha256", first)
        assert await store.upload_size(upload_id) is None
        assert await read_all(store, first) == data
        assert [blob async for blob in store.list_blobs()] == [("sha256", first)]

    run(open_store, test)


def test_uploads_are_listed_and_deleted(open_store: StoreFactory) -> None:
    async def test(store: BlobStore) -> None:
        upload_id = str(uuid.uuid4())
        before = time.time() - 60
        await store.create_upload(upload_id)
        await append(store, upload_id, b"abandoned")
        listed = dict([entry async for entry in store.list_uploads()])
        assert listed.keys() == {upload_id}
        assert listed[upload_id] >= before
        await store.delete_upload(upload_id)
        await store.delete_upload(upload_id)  # again: nothing to do
        assert await store.upload_size(upload_id) is None
        assert [entry async for entry in store.list_uploads()] == []
        with pytest.raises(FileNotFoundError):
            await staged(store, upload_id)

    run(open_store, test)


def test_remove_keeps_pinned_and_fresh_blobs_and_frees_the_rest(open_store: StoreFactory) -> None:
    data = os.urandom(2 * MiB)

    async def test(store: BlobStore) -> None:
        hexdigest = await commit(store, data)
        # Committed just now: fresh for a collection that started before.
        assert await store.remove("sha256", hexdigest, time.time() - 60) is None
        assert await store.pin("sha256", hexdigest)
        assert await store.remove("sha256", hexdigest, time.time() + 10) is None
        store.unpin("sha256", hexdigest)
        assert await store.stat("sha256", hexdigest) == len(data)
        assert await store.remove("sha256", hexdigest, time.time() + 10) == len(data)
        assert await store.stat("sha256", hexdigest) is None
        assert [blob async for blob in store.list_blobs()] == []
        assert await store.purge_removed(time.time() + 10) == 0
        # Stored again after the removal: readable again.
        assert await commit(store, data) == hexdigest
        assert await read_all(store, hexdigest) == data

    run(open_store, test)


def test_a_pin_from_another_instance_keeps_the_blob(open_store: StoreFactory) -> None:
    """A mount on one replica, a collection on another: the fresh mark is shared."""
    data = b"mounted elsewhere"

    async def test(store: BlobStore) -> None:
        hexdigest = await commit(store, data)
        started = time.time() + 0.001
        async with open_store() as other:
            assert await other.pin("sha256", hexdigest)
            other.unpin("sha256", hexdigest)
        expected = None if started <= time.time() else len(data)
        assert await store.remove("sha256", hexdigest, started) == expected
        assert await read_all(store, hexdigest) == data

    run(open_store, test)


def test_delete_removes_a_blob(open_store: StoreFactory) -> None:
    async def test(store: BlobStore) -> None:
        hexdigest = await commit(store, os.urandom(9 * MiB), 4 * MiB)
        assert await store.delete("sha256", hexdigest)
        assert await store.stat("sha256", hexdigest) is None
        assert not await store.delete("sha256", hexdigest)

    run(open_store, test)


@pytest.mark.parametrize("held", [3 * MiB, 6 * MiB], ids=["short-last-part", "full-part"])
def test_an_abandoned_writer_leaves_the_upload_as_it_was(
    open_store: StoreFactory, held: int
) -> None:
    """What a writer wrote is undone by abandon(), past several parts, and the upload goes
    on from where it was (a chunk refused once received)."""

    async def test(store: BlobStore) -> None:
        upload_id = str(uuid.uuid4())
        await store.create_upload(upload_id)
        kept = os.urandom(held)
        await append(store, upload_id, kept)
        writer = await store.open_upload(upload_id)
        for _ in range(19):
            await writer.write(os.urandom(MiB))
        await writer.abandon()
        assert await store.upload_size(upload_id) == held
        assert await staged(store, upload_id) == kept
        rest = os.urandom(2 * MiB)
        await append(store, upload_id, rest)
        hexdigest = hashlib.sha256(kept + rest).hexdigest()
        await store.commit_upload(upload_id, "sha256", hexdigest)
        store.unpin("sha256", hexdigest)
        assert await read_all(store, hexdigest) == kept + rest

    run(open_store, test)
