"""Opening the database: an async SQLAlchemy engine tuned per dialect."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from regd.db.fresh import FreshReads, wrote
from regd.errors import StartupError

#: PostgreSQL connections kept open per regd, and opened beyond that at peaks.
POOL_SIZE: Final = 32
POOL_OVERFLOW: Final = 32


class Database:
    """The engine, and the two ways in: ``read()`` and ``write()`` transactions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # PostgreSQL reads run in autocommit: one statement is one round trip, with no
        # BEGIN before it and no ROLLBACK when the connection goes back to the pool. Under
        # READ COMMITTED (the default) each statement of a transaction sees its own
        # snapshot anyway, so nothing a reader relied on changes.
        #: PostgreSQL: generations and repository rows, read fresh and batched.
        self.fresh: FreshReads | None = (
            FreshReads(self) if engine.dialect.name == "postgresql" else None
        )
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        # SQLite has one writer at a time; queueing writers here (instead of letting
        # them collide on SQLITE_BUSY) keeps a single process fair and deadlock-free.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        """Possibly shared by several regd replicas: caches must be validated (see
        docs/operations.md, "Several replicas on PostgreSQL")."""
        return self.engine.dialect.name == "postgresql"

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._reader.connect() as connection:
            yield connection

    async def hold(self) -> AsyncConnection:
        """A connection for reads (autocommit on PostgreSQL) that the caller keeps until it
        closes it: :mod:`regd.db.fresh` sends its prepared statement on such connections."""
        return await self._reader.connect()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction committed on exit, rolled back on error."""
        if self._write_lock is None:
            async with self.engine.begin() as connection:
                yield connection
            wrote()  # committed: this request's later reads are read after it
            return
        async with self._write_lock, self.engine.begin() as connection:
            yield connection

    async def close(self) -> None:
        if self.fresh is not None:
            await self.fresh.close()
        await self.engine.dispose()


def _require_asyncpg() -> None:
    try:
        import asyncpg  # noqa: F401
    except ModuleNotFoundError:
        raise StartupError(
            "database_url: PostgreSQL needs the 'postgres' extra (asyncpg): "
            "pip install 'regd[postgres]' (or use the default SQLite: unset REGD_DATABASE_URL)"
        ) from None


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def connect(url: str) -> Database:
    """Open ``url`` (``sqlite+aiosqlite:///...`` or ``postgresql+asyncpg://...``).

    PostgreSQL needs the ``postgres`` extra (asyncpg): ``pip install 'regd[postgres]'``.
    """
    url = _async_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    elif url.startswith("postgresql+asyncpg"):
        _require_asyncpg()
        # A pool as large as the concurrency it serves: connections returned to a full
        # pool are closed, and a new asyncpg connection costs ~10 ms (measured:
        # docs/performance.md). No pre-ping (one more round trip per checkout): a
        # connection the server dropped fails its statement once and the pool is
        # invalidated (SQLAlchemy's disconnect handling); recycled after an hour.
        engine = create_async_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_recycle=3600,
            connect_args={"server_settings": {"application_name": "regd"}},
        )
    else:
        scheme = url.partition(":")[0]
        raise StartupError(
            f"database_url: unsupported database {scheme!r} (REGD_DATABASE_URL): use "
            "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    return Database(engine)


def _async_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean asyncpg (regd is async throughout)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL loses nothing on a process crash (SIGKILL) in WAL mode; only an OS crash
    # may roll back the last transactions, and never corrupts the file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
