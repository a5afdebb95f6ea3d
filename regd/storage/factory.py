"""Opening the blob store a ``storage_url`` names (empty: the filesystem under the data dir)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from regd.storage.driver import BlobStore
from regd.storage.filesystem import FilesystemStore
from regd.storage.objects import DigestLock, ObjectStore
from regd.storage.url import parse_storage_url


@contextlib.asynccontextmanager
async def opened_store(
    storage_url: str, data_dir: Path, lock: DigestLock, create: bool = True
) -> AsyncIterator[BlobStore]:
    """The store, connected and checked (a missing bucket/container is created unless not
    ``create``); :class:`~regd.storage.errors.StorageConfigError` names the endpoint and the
    cause when it cannot be used. Closed on exit."""
    location = parse_storage_url(storage_url)
    if location is None:
        yield FilesystemStore(data_dir)
        return
    if location.kind == "s3":
        from regd.storage.s3 import S3Backend

        s3 = S3Backend(location)
        await s3.open(create)
        store = ObjectStore(s3, location.prefix, lock)
    else:
        from regd.storage.swift import SwiftBackend

        swift = SwiftBackend(location)
        await swift.open(create)
        store = ObjectStore(swift, location.prefix, lock)
    try:
        yield store
    finally:
        await store.close()
