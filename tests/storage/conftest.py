"""The driver suite's fixtures: one store factory per driver, over real servers.

``driver`` is parametrized over ``filesystem``, ``swift`` (native API) and ``s3`` (Swift's
s3api), all on the session's Swift all-in-one (tests/support/swift.py). Each test gets a
location of its own (a fresh directory, or a fresh prefix in a shared container/bucket),
and a real SQLite database for the digest lock.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from regd.db import connect, upgrade
from regd.registry.blobs import digest_lock
from regd.storage import BlobStore, opened_store
from tests.support.swift import SwiftServer, swift_server_fixture

__all__ = ["swift_server_fixture"]

#: Opens one more store on the test's location (another replica, say).
StoreFactory = Callable[[], AbstractAsyncContextManager[BlobStore]]

DRIVERS = ["filesystem", "swift", "s3"]


@pytest.fixture(scope="session")
def shared_containers() -> dict[str, str]:
    """One container/bucket per object-store driver for the session (tests use prefixes)."""
    return {"swift": f"suite-{uuid.uuid4().hex[:8]}", "s3": f"suite-{uuid.uuid4().hex[:8]}"}


def storage_env(driver: str, swift: SwiftServer) -> dict[str, str]:
    return swift.swift_env() if driver == "swift" else swift.s3_env() if driver == "s3" else {}


def storage_url(driver: str, swift: SwiftServer, container: str, prefix: str) -> str:
    if driver == "swift":
        return f"swift://{container}/{prefix}"
    if driver == "s3":
        return swift.s3_url(container).replace("?", f"/{prefix}?", 1)
    return ""


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(
    driver: str, request: pytest.FixtureRequest, tmp_path: Path, shared_containers: dict[str, str]
) -> StoreFactory:
    swift: SwiftServer | None = None
    if driver != "filesystem":
        swift = request.getfixturevalue("swift_server")
    url = (
        ""
        if swift is None
        else storage_url(driver, swift, shared_containers[driver], f"t-{uuid.uuid4().hex[:10]}")
    )
    env = {} if swift is None else storage_env(driver, swift)

    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[BlobStore]:
        db = connect(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}")
        await upgrade(db)
        try:
            with pytest.MonkeyPatch.context() as patch:  # credentials come from the environment
                for name, value in env.items():
                    patch.setenv(name, value)
                opened = opened_store(url, tmp_path / "data", digest_lock(db))
                store = await opened.__aenter__()
            try:
                yield store
            finally:
                await opened.__aexit__(None, None, None)
        finally:
            await db.close()

    return factory
