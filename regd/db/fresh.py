"""PostgreSQL: the shared state a request must read fresh, in one batched round trip.

Replica caches (:class:`regd.caching.Cache`) are checked against generations: the rows of
``generations`` (``auth``, ``remotes``) and each repository's ``generation`` column. A
request must not see them older than it is: whatever another replica had committed when
this request arrived must show. Reading them costs a round trip each, and on a busy
machine a round trip to PostgreSQL is most of what a cached read costs.

So they are read together, and shared: one statement reads every generation and the rows
of the repositories the waiting requests name (``SELECT ... UNION ALL ...``). A request
uses a snapshot whose statement was sent *after* the request arrived — never one already
under way when it came — and keeps it for the rest of the request (a contextvar that the
HTTP layer opens with :func:`begin_request`, naming the repository it is about). While
``MAX_IN_FLIGHT`` statements are under way, the requests that arrive queue for the next
one, which serves them all: under load one round trip per many requests instead of
several per request. A write by the request itself
(:meth:`regd.db.engine.Database.write`) drops its snapshot: what it reads next is read
after its own change.

The statement is prepared once on each of (at most ``MAX_IN_FLIGHT``) connections held
for it and sent straight through asyncpg: no pool checkout, no SQLAlchemy execution or
result rows per statement (about a tenth of the CPU, docs/performance.md).

Outside a request (background tasks, ``regd gc``, tests) a read is served by a statement
sent after the call. SQLite does not use any of this: one process owns the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.db.schema import generations, repositories

if TYPE_CHECKING:
    from regd.db.engine import Database

log = logging.getLogger(__name__)

#: A repository row: (id, generation).
Row = tuple[int, int]
#: Statements under way at a time: a request waits for at most one to finish before its
#: own is sent.
MAX_IN_FLIGHT: Final = 2


@dataclass(frozen=True, slots=True)
class Snapshot:
    #: The event-loop time at which its statement was sent.
    started: float
    generations: dict[str, int]
    #: Every name asked for: its row, or None when there is no such repository.
    refs: dict[str, Row | None]


@dataclass(slots=True)
class _Request:
    since: float
    names: frozenset[str]
    snapshot: Snapshot | None = None


_request: contextvars.ContextVar[_Request | None] = contextvars.ContextVar(
    "regd_fresh_request", default=None
)


def begin_request(names: Iterable[str] = ()) -> None:
    """A request arrived (HTTP layer; in its own task): what it reads of the shared state
    is at least as recent as now. ``names``: the repositories it is about."""
    _request.set(_Request(asyncio.get_running_loop().time(), frozenset(names)))


def wrote() -> None:
    """The current request committed a change: its later reads must see it."""
    request = _request.get()
    if request is not None:
        request.since = asyncio.get_running_loop().time()
        request.snapshot = None


@dataclass(slots=True)
class _Batch:
    names: set[str]
    future: asyncio.Future[Snapshot]
    started: float = field(default=-1.0)


_NAMES = sa.bindparam("names", type_=postgresql.ARRAY(sa.String))
#: Every generation (``id`` NULL) and the rows of the repositories named.
_QUERY = sa.union_all(
    sa.select(generations.c.name, generations.c.value, sa.cast(sa.null(), sa.BigInteger)),
    sa.select(repositories.c.name, repositories.c.generation, repositories.c.id).where(
        repositories.c.name == sa.any_(_NAMES)
    ),
)


class _Channel:
    """A connection held for fresh reads only, with the statement prepared on it.

    The statement goes straight to asyncpg (``PreparedStatement.fetch``): no pool checkout,
    no SQLAlchemy execution context or result rows. On this shared 2-core machine that took
    a fresh read from ~0.9 ms to ~0.1 ms of regd's CPU (docs/performance.md), and the
    read's wall time with it: everything that waits on it is served sooner.
    """

    def __init__(self, connection: AsyncConnection, statement: Any) -> None:
        self._connection = connection
        self._statement = statement  # asyncpg.PreparedStatement (autocommit: no BEGIN)

    @classmethod
    async def open(cls, db: Database) -> _Channel:
        """A connection from the pool, checked through SQLAlchemy first (``SELECT 1``): one
        the server closed meanwhile raises a DBAPIError with ``connection_invalidated`` and
        SQLAlchemy drops the pool's other connections of before, as it does for any read."""
        connection = await db.hold()
        try:
            await connection.exec_driver_sql("SELECT 1")
            driver = (await connection.get_raw_connection()).driver_connection
            sql = str(_QUERY.compile(dialect=db.engine.dialect))
            with _as_database_error(sql):
                return cls(connection, await driver.prepare(sql))  # type: ignore[union-attr]
        except BaseException:
            await asyncio.shield(_discard(connection))
            raise

    async def fetch(self, names: list[str]) -> list[Any]:
        with _as_database_error("fresh read"):
            return list(await self._statement.fetch(names))

    async def close(self, *, broken: bool = False) -> None:
        """Back to the pool; ``broken``: its state is unknown (an error, a cancelled
        statement), so the pool closes it instead."""
        if broken:
            await _discard(self._connection)
        else:
            await self._connection.close()


@contextlib.contextmanager
def _as_database_error(statement: str) -> Iterator[None]:
    """asyncpg's own errors (a lost connection, a server refusing) as SQLAlchemy's
    OperationalError: what every other read raises, and the HTTP layer answers 503."""
    try:
        yield
    except sa_exc.SQLAlchemyError:
        raise
    except Exception as error:
        raise sa_exc.OperationalError(statement, None, error) from error


async def _discard(connection: AsyncConnection) -> None:
    """Close ``connection`` rather than return it to the pool; a failure to is no news."""
    with contextlib.suppress(Exception):
        await connection.invalidate()
        await connection.close()


class FreshReads:
    """One process's batched reads of generations and repository rows (PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._running: list[_Batch] = []
        self._next: _Batch | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle: list[_Channel] = []  # at most MAX_IN_FLIGHT are ever opened
        self._closed = False
        self.statements = 0  # statements sent (tests, docs/performance.md)

    async def generation(self, name: str) -> int:
        """A ``generations`` row as committed when the current request arrived (or later);
        0 when it was never bumped."""
        return (await self._snapshot(())).generations.get(name, 0)

    async def ref(self, name: str) -> Row | None:
        """``(id, generation)`` of repository ``name``, likewise; None when it does not exist."""
        return (await self._snapshot((name,))).refs[name]

    async def _snapshot(self, names: tuple[str, ...]) -> Snapshot:
        loop = asyncio.get_running_loop()
        request = _request.get()
        if request is None:
            since, wanted = loop.time(), set(names)
        else:
            held = request.snapshot
            if held is not None and all(name in held.refs for name in names):
                return held
            since, wanted = request.since, set(names) | request.names
        joined = next((b for b in self._running if b.started >= since and wanted <= b.names), None)
        if joined is not None:
            future = joined.future
        else:
            waiting = self._next
            if waiting is None:
                waiting = self._next = _Batch(set(), loop.create_future())
            waiting.names |= wanted
            future = waiting.future
            if len(self._running) < MAX_IN_FLIGHT:
                self._start()
        snapshot = await asyncio.shield(future)
        if request is not None and snapshot.started >= request.since:
            request.snapshot = snapshot
        return snapshot

    def _start(self) -> None:
        batch, self._next = self._next, None
        if batch is None:
            return
        if self._closed:  # shutting down: its waiters are cancelled
            batch.future.cancel()
            return
        batch.started = asyncio.get_running_loop().time()
        self._running.append(batch)
        task = asyncio.get_running_loop().create_task(self._read(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, batch: _Batch) -> None:
        try:
            self.statements += 1
            rows = await self._fetch(sorted(batch.names))
        except Exception as error:
            batch.future.set_exception(error)
            batch.future.exception()  # retrieved: its waiters may all have gone
        except BaseException:
            batch.future.cancel()  # shutdown: its waiters are cancelled too
            raise
        else:
            found: dict[str, int] = {}
            refs: dict[str, Row | None] = dict.fromkeys(batch.names)
            for name, value, row_id in rows:
                if row_id is None:
                    found[name] = int(value)
                else:
                    refs[name] = (int(row_id), int(value))
            batch.future.set_result(Snapshot(batch.started, found, refs))
        finally:
            self._running.remove(batch)
            if self._next is not None:
                self._start()

    async def _fetch(self, names: list[str]) -> list[Any]:
        """The rows, on a held channel. A held channel whose connection the server closed
        meanwhile (restart, idle timeout) fails once: the read, which changes nothing, is
        sent again on a new connection, so no request sees that failure."""
        if self._idle:
            try:
                return await self._use(self._idle.pop(), names)
            except Exception as error:
                log.info("fresh read failed on a held connection (%s): on a new one", error)
                idle, self._idle = self._idle, []  # as dead, likely (a server restart)
                for channel in idle:
                    await channel.close(broken=True)
        try:
            return await self._use(await _Channel.open(self._db), names)
        except sa_exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise
        # A pooled connection was dead too: SQLAlchemy has dropped the pool's older ones.
        return await self._use(await _Channel.open(self._db), names)

    async def _use(self, channel: _Channel, names: list[str]) -> list[Any]:
        try:
            rows = await channel.fetch(names)
        except BaseException:
            await asyncio.shield(channel.close(broken=True))
            raise
        self._idle.append(channel)
        return rows

    async def close(self) -> None:
        """Stop: cancel the statements under way (their connections are closed), return
        the held connections to the pool."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        idle, self._idle = self._idle, []
        for channel in idle:
            await channel.close()
