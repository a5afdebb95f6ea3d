"""Garbage collection: what is freed, what is kept, and the races it must not lose.

Two kinds of test:

- ``regd gc`` (a real process) against the data dir and database of a live ``regd serve``,
  with content pushed over HTTP;
- interleavings driven step by step in this process on a real data dir and SQLite
  database, through the registry's own objects: a writer's commit, a collection, the
  writer's link, in the orders that matter (no sleeps, no mocks).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from regd.db import connect, upgrade
from regd.registry import Registry
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.gc import GarbageCollector, free_blob
from regd.registry.names import Digest
from regd.storage import FilesystemStore
from tests.support.oci import (
    OCI_MANIFEST,
    assert_oci_error,
    blob_path,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
)
from tests.support.server import RegdProcess, start_regd
from tests.support.waiting import wait_until

_FREED = re.compile(
    r"regd gc: (?P<verb>freed|would free) (?P<links>\d+) blob link\(s\), "
    r"(?P<blobs>\d+) blob\(s\), (?P<bytes>\d+) byte\(s\)"
)


def regd_gc(data_dir: Path, *args: str) -> dict[str, Any]:
    """Run ``regd gc`` on a data dir; what it says it freed."""
    done = subprocess.run(
        [sys.executable, "-m", "regd", "gc", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    match = _FREED.fullmatch(done.stdout.strip().split(" (")[0])
    assert match, done.stdout
    return {
        "verb": match["verb"],
        "links": int(match["links"]),
        "blobs": int(match["blobs"]),
        "bytes": int(match["bytes"]),
    }


@pytest.fixture
def live(tmp_path: Path) -> Iterator[RegdProcess]:
    server = start_regd(tmp_path / "data")
    yield server
    assert server.stop() == 0, server.log
    assert "Traceback" not in server.log, server.log


# -- regd gc against a live daemon ------------------------------------------------------------


def test_gc_frees_unreferenced_blobs_and_keeps_the_rest(live: RegdProcess) -> None:
    with live.client() as http:
        image = push_image(http, "gc/app", "1.0", seed="gc-kept")
        orphan = os.urandom(4096)
        orphan_digest = push_blob(http, "gc/app", orphan)  # no manifest will reference it
        gone_data = b"only in a deleted repository"
        gone = push_blob(http, "gc/gone", gone_data)
        push_blob(http, "gc/gone", image.layers[0])  # also in gc/app, where it is referenced
        assert http.delete("/api/v1/repositories/gc/gone").status_code == 204

        # Young: with the default grace (an hour) nothing pushed just now is garbage.
        assert regd_gc(live.data_dir) == {"verb": "freed", "links": 0, "blobs": 0, "bytes": 0}
        assert blob_path(live.data_dir, gone).exists()
        assert blob_path(live.data_dir, orphan_digest).exists()

        freed = regd_gc(live.data_dir, "--grace", "0")
        # gc/app's link to the orphan; the orphan's and gc/gone's own bytes.
        size = len(orphan) + len(gone_data)
        assert freed == {"verb": "freed", "links": 1, "blobs": 2, "bytes": size}
        assert not blob_path(live.data_dir, orphan_digest).exists()
        assert not blob_path(live.data_dir, gone).exists()
        assert http.head(f"/v2/gc/app/blobs/{orphan_digest}").status_code == 404
        assert_oci_error(http.get(f"/v2/gc/app/blobs/{orphan_digest}"), 404, "BLOB_UNKNOWN")

        # Everything the tagged manifest references is still there and pulls.
        manifest = http.get("/v2/gc/app/manifests/1.0", headers={"Accept": OCI_MANIFEST})
        assert manifest.status_code == 200
        assert manifest.content == image.manifest
        for blob in (image.config, *image.layers):
            got = http.get(f"/v2/gc/app/blobs/{digest_of(blob)}")
            assert got.status_code == 200
            assert got.content == blob

        # Nothing left to do.
        assert regd_gc(live.data_dir, "--grace", "0")["blobs"] == 0


def test_untagged_manifests_keep_their_blobs(live: RegdProcess) -> None:
    with live.client() as http:
        image = push_image(http, "gc/untagged", "1.0", seed="gc-untagged")
        assert http.delete("/v2/gc/untagged/manifests/1.0").status_code == 202
        regd_gc(live.data_dir, "--grace", "0")
        by_digest = http.get(
            f"/v2/gc/untagged/manifests/{image.digest}",
            headers={"Accept": OCI_MANIFEST},
        )
        assert by_digest.status_code == 200
        for blob in image.layers:
            assert blob_path(live.data_dir, digest_of(blob)).exists()


def test_dry_run_frees_nothing(live: RegdProcess) -> None:
    with live.client() as http:
        orphan = os.urandom(1000)
        digest = push_blob(http, "gc/dry", orphan)
        said = regd_gc(live.data_dir, "--dry-run", "--grace", "0")
        assert said == {"verb": "would free", "links": 1, "blobs": 1, "bytes": len(orphan)}
        assert blob_path(live.data_dir, digest).exists()
        assert http.get(f"/v2/gc/dry/blobs/{digest}").content == orphan
        # ...and what it promised is what a real run frees.
        assert regd_gc(live.data_dir, "--grace", "0") == {**said, "verb": "freed"}


def test_a_push_after_a_collection_stores_the_blob_again(live: RegdProcess) -> None:
    with live.client() as http:
        data = os.urandom(2048)
        digest = push_blob(http, "gc/again", data)
        assert regd_gc(live.data_dir, "--grace", "0")["blobs"] == 1
        assert push_blob(http, "gc/again", data) == digest
        assert blob_path(live.data_dir, digest).read_bytes() == data
        assert http.get(f"/v2/gc/again/blobs/{digest}").content == data


def test_periodic_collection_in_the_daemon(tmp_path: Path) -> None:
    server = start_regd(tmp_path / "data", env={"REGD_GC_INTERVAL": "0.2", "REGD_GC_GRACE": "0"})
    try:
        with server.client() as http:
            digest = push_blob(http, "gc/periodic", os.urandom(512))
            path = blob_path(server.data_dir, digest)
            wait_until(lambda: not path.exists(), 30, "the daemon's collection")
            assert http.head(f"/v2/gc/periodic/blobs/{digest}").status_code == 404
            assert_oci_error(http.get(f"/v2/gc/periodic/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    finally:
        assert server.stop() == 0, server.log


# -- interleavings, step by step ---------------------------------------------------------------


def _run(test: Callable[[Registry, Path], Awaitable[None]], root: Path) -> None:
    async def main() -> None:
        db = connect(f"sqlite+aiosqlite:///{root / 'regd.db'}")
        await upgrade(db)
        try:
            await test(Registry(db, FilesystemStore(root)), root)
        finally:
            await db.close()

    asyncio.run(main())


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _push(registry: Registry, name: str, data: bytes) -> Digest:
    digest = Digest.of(data)
    await registry.uploads.upload(name, digest, _body(data))
    return digest


async def _garbage(registry: Registry, data: bytes) -> Digest:
    """A blob stored and in the ``blobs`` table that no repository links any more."""
    digest = await _push(registry, "gc/old", data)
    await registry.blobs.unlink("gc/old", digest)
    return digest


async def _stage(registry: Registry, data: bytes) -> str:
    """A verified upload ready to commit (what a PUT ?digest= has before it commits)."""
    upload_id = f"test-{hashlib.sha256(data).hexdigest()[:12]}-{time.monotonic_ns()}"
    await registry.store.create_upload(upload_id)
    writer = await registry.store.open_upload(upload_id)
    await writer.write(data)
    await writer.close()
    return upload_id


async def _link(registry: Registry, name: str, digest: Digest, size: int) -> None:
    async with registry.db.write() as conn:
        repository_id = await registry.repositories.ensure(conn, name)
        await registry.blobs.link(conn, repository_id, str(digest), size)
    registry.repositories.remember(name, repository_id)


async def _read(registry: Registry, name: str, digest: Digest) -> bytes:
    info = await registry.blobs.stat(name, digest)
    assert info.path is not None
    return info.path.read_bytes()


def test_a_blob_pushed_again_during_the_sweep_survives(tmp_path: Path) -> None:
    data = b"pushed, forgotten, pushed again"

    async def test(registry: Registry, _root: Path) -> None:
        digest = await _push(registry, "gc/re-push", data)
        started = time.time()  # the collection starts; the link is older than its grace
        assert await _push(registry, "gc/re-push", data) == digest  # pushed again meanwhile
        collector = GarbageCollector(registry.db, registry.store, registry.blobs)
        report = await collector.collect(grace=0, started=started)
        assert (report.links, report.blobs) == (0, 0)
        assert await _read(registry, "gc/re-push", digest) == data

    _run(test, tmp_path)


@pytest.mark.parametrize("collector_process", ["same", "other"])
def test_commit_of_stored_content_then_collection_then_link(
    tmp_path: Path, collector_process: str
) -> None:
    """commit_upload finds the bytes stored already (unlinked garbage) and drops its staged
    copy; a collection runs before the link. It must keep the bytes: in this process the
    commit's pin says so, from another process (``regd gc``) the file's fresh mtime."""
    data = b"garbage about to be pushed again"

    async def test(registry: Registry, root: Path) -> None:
        digest = await _garbage(registry, data)
        started = time.time()
        upload_id = await _stage(registry, data)
        await registry.store.commit_upload(upload_id, digest.algorithm, digest.hex)
        assert await registry.store.upload_size(upload_id) is None  # staged copy dropped
        store = registry.store if collector_process == "same" else FilesystemStore(root)
        assert await free_blob(registry.db, store, str(digest), fresh_since=started) is None
        await _link(registry, "gc/new-home", digest, len(data))
        assert await _read(registry, "gc/new-home", digest) == data

    _run(test, tmp_path)


def test_collection_then_commit_stores_the_bytes_again(tmp_path: Path) -> None:
    data = b"collected, then pushed"

    async def test(registry: Registry, root: Path) -> None:
        digest = await _garbage(registry, data)
        path = blob_path(root, str(digest))
        old = time.time() - 10
        os.utime(path, (old, old))
        assert await free_blob(registry.db, registry.store, str(digest), time.time()) == len(data)
        assert not path.exists()
        assert await _push(registry, "gc/after", data) == digest
        assert path.read_bytes() == data
        assert await _read(registry, "gc/after", digest) == data

    _run(test, tmp_path)


def test_a_link_after_the_bytes_went_fails_instead_of_dangling(tmp_path: Path) -> None:
    """A writer whose commit is older than the grace links after a collection took the
    bytes: its link is refused, never left pointing at nothing."""
    data = b"committed long before linking"

    async def test(registry: Registry, root: Path) -> None:
        digest = await _garbage(registry, data)
        old = time.time() - 10
        os.utime(blob_path(root, str(digest)), (old, old))
        # A collection in another process: this process's pins do not reach it.
        other = FilesystemStore(root)
        assert await free_blob(registry.db, other, str(digest), time.time()) == len(data)
        with pytest.raises(RegistryError):
            await _link(registry, "gc/late", digest, len(data))
        with pytest.raises(RegistryError):
            await registry.blobs.stat("gc/late", digest)

    _run(test, tmp_path)


def test_a_mount_during_a_collection_keeps_the_blob(tmp_path: Path) -> None:
    data = b"mounted from a repository"

    async def test(registry: Registry, root: Path) -> None:
        digest = await _push(registry, "gc/source", data)
        # The mount found the blob linked in the source and pins it...
        assert await registry.store.pin(digest.algorithm, digest.hex)
        # ...the source drops it and a collection runs before the mount links...
        await registry.blobs.unlink("gc/source", digest)
        assert await free_blob(registry.db, registry.store, str(digest), time.time()) is None
        # ...and the mount's link finds the bytes.
        await _link(registry, "gc/target", digest, len(data))
        assert await _read(registry, "gc/target", digest) == data

    _run(test, tmp_path)


def test_a_collection_drops_the_cached_link_at_once(tmp_path: Path) -> None:
    data = b"cached as linked, then collected"

    async def test(registry: Registry, root: Path) -> None:
        digest = await _push(registry, "gc/cached", data)
        assert (await registry.blobs.stat("gc/cached", digest)).size == len(data)  # cached
        old = time.time() - 10
        os.utime(blob_path(root, str(digest)), (old, old))
        collector = GarbageCollector(registry.db, registry.store, registry.blobs)
        report = await collector.collect(grace=0, started=time.time() + 1)
        assert (report.links, report.blobs, report.bytes) == (1, 1, len(data))
        with pytest.raises(RegistryError):
            await registry.blobs.stat("gc/cached", digest)
        assert not blob_path(root, str(digest)).exists()

    _run(test, tmp_path)


def test_stored_orphans_are_collected(tmp_path: Path) -> None:
    """Bytes committed whose link never came (a crash between the two)."""
    data = b"committed, never linked"

    async def test(registry: Registry, root: Path) -> None:
        digest = Digest.of(data)
        upload_id = await _stage(registry, data)
        await registry.store.commit_upload(upload_id, digest.algorithm, digest.hex)
        collector = GarbageCollector(registry.db, registry.store, registry.blobs)
        # Pinned by its commit (the link may still come): kept.
        assert (await collector.collect(grace=0)).blobs == 0
        registry.store.unpin(digest.algorithm, digest.hex)  # the "crash": no link ever
        old = time.time() - 10
        os.utime(blob_path(root, str(digest)), (old, old))
        report = await collector.collect(grace=0)
        assert (report.blobs, report.bytes) == (1, len(data))
        assert not blob_path(root, str(digest)).exists()

    _run(test, tmp_path)


def test_a_manifest_is_refused_when_a_collection_took_its_blob_meanwhile(tmp_path: Path) -> None:
    """The daemon's link cache still says "linked" (a ``regd gc`` in another process
    removed the old, unreferenced link): the manifest PUT must not be stored over a
    missing blob. Its transaction checks the links again."""
    config, layer = b'{"architecture": "amd64", "os": "linux"}', b"a layer collected too soon"

    async def test(registry: Registry, root: Path) -> None:
        for data in (config, layer):
            digest = await _push(registry, "gc/late-manifest", data)
            assert (await registry.blobs.stat("gc/late-manifest", digest)).size  # cached
            old = time.time() - 10
            os.utime(blob_path(root, str(digest)), (old, old))
        other = Registry(registry.db, FilesystemStore(root))  # regd gc: its own caches
        collector = GarbageCollector(other.db, other.store, other.blobs)
        report = await collector.collect(grace=0, started=time.time() + 1)
        assert report.blobs == 2
        with pytest.raises(RegistryError) as refused:
            await registry.manifests.put(
                "gc/late-manifest", "1.0", image_manifest(config, [layer]), OCI_MANIFEST
            )
        assert refused.value.code is ErrorCode.MANIFEST_BLOB_UNKNOWN
        with pytest.raises(RegistryError):  # and the stale cached link is gone
            await registry.blobs.stat("gc/late-manifest", Digest.of(config))

    _run(test, tmp_path)
