"""Queueing events per endpoint (in the database) and delivering them, in order, with retries.

Each endpoint has one delivery task: it POSTs the oldest queued event and waits for the
answer before the next, so events reach a receiver in the order they happened. A failed
attempt (no 2xx answer, a connection error, or no answer within ``timeout``) is retried
after 1 s, 2 s, 4 s, … (at most 5 min) up to ``retries`` times, then recorded as
``failed`` and dropped. Publishing only writes the queue: a slow or dead receiver never
slows the request that caused the event. A queue over ``queue_size`` drops its oldest
events (recorded as ``dropped``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import sqlalchemy as sa

from regd.db import Database
from regd.db.schema import webhook_deliveries, webhook_queue
from regd.notify.endpoints import Endpoint, Endpoints

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
SIGNATURE_HEADER = "X-Regd-Signature-256"
BACKOFF_BASE = 1.0
BACKOFF_MAX = 300.0
#: Delivery records kept per endpoint.
HISTORY = 1000


def signature(secret: str, body: bytes) -> str:
    """``sha256=HEX``: the HMAC-SHA256 of the body under the endpoint's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Notifier:
    def __init__(
        self,
        db: Database,
        queue_size: int = 1000,
        timeout: float = 10.0,
        retries: int = 10,
    ) -> None:
        self._db = db
        self.endpoints = Endpoints(db)
        self._queue_size = max(1, queue_size)
        self._timeout = timeout
        self._retries = retries
        self._known: list[Endpoint] | None = None
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Deliver what a previous run left queued, and what comes."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        for endpoint in await self._endpoints():
            self._spawn(endpoint)

    async def close(self) -> None:
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        if self._session is not None:
            await self._session.close()

    async def create(self, endpoint: Endpoint) -> None:
        await self.endpoints.create(endpoint)
        self._known = None
        self._spawn(endpoint)

    async def delete(self, name: str) -> None:
        task = self._workers.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._known = None
        await self.endpoints.delete(name)

    async def _endpoints(self) -> list[Endpoint]:
        if self._known is None:
            self._known = await self.endpoints.all()
        return self._known

    async def publish(
        self, action: str, repository: str, make_event: Callable[[], dict[str, Any]]
    ) -> None:
        """Queue the event ``make_event`` builds (one entry of distribution's ``events``
        list) for every endpoint that wants ``action`` on ``repository``; with none (no
        webhooks: every pull), the event is never built."""
        wanting = [e for e in await self._endpoints() if e.wants(action, repository)]
        if not wanting:
            return
        event = make_event()
        body = json.dumps({"events": [event]}, separators=(",", ":"))
        now = time.time()
        async with self._db.write() as conn:
            for endpoint in wanting:
                await conn.execute(
                    sa.insert(webhook_queue).values(
                        webhook=endpoint.name,
                        event_id=event["id"],
                        action=action,
                        repository=repository,
                        body=body,
                        created_at=now,
                    )
                )
                await self._bound(conn, endpoint.name, now)
        for endpoint in wanting:
            wake = self._wake.get(endpoint.name)
            if wake is not None:
                wake.set()

    async def _bound(self, conn: Any, name: str, now: float) -> None:
        """Drop the oldest events of a queue past ``queue_size``, recording them."""
        queued = sa.select(webhook_queue).where(webhook_queue.c.webhook == name)
        count = await conn.scalar(sa.select(sa.func.count()).select_from(queued.subquery()))
        excess = int(count or 0) - self._queue_size
        if excess <= 0:
            return
        oldest = (await conn.execute(queued.order_by(webhook_queue.c.id).limit(excess))).all()
        for row in oldest:
            await conn.execute(sa.delete(webhook_queue).where(webhook_queue.c.id == row.id))
            await conn.execute(_record(row, "dropped", row.attempts, None, "queue full", now))
        log.warning("webhook %s: queue full, dropped %d oldest event(s)", name, excess)

    def _spawn(self, endpoint: Endpoint) -> None:
        if self._session is None or endpoint.name in self._workers:
            return
        self._wake[endpoint.name] = asyncio.Event()
        self._workers[endpoint.name] = asyncio.create_task(self._deliver(endpoint))

    async def _deliver(self, endpoint: Endpoint) -> None:
        wake = self._wake[endpoint.name]
        while True:
            wake.clear()
            async with self._db.read() as conn:
                row = (
                    await conn.execute(
                        sa.select(webhook_queue)
                        .where(webhook_queue.c.webhook == endpoint.name)
                        .order_by(webhook_queue.c.id)
                        .limit(1)
                    )
                ).first()
            if row is None:
                await wake.wait()
                continue
            try:
                status, error = await self._post(endpoint, row.body.encode())
                await self._after(endpoint, row, status, error)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook %s: delivery failed", endpoint.name)
                await asyncio.sleep(BACKOFF_BASE)

    async def _after(
        self, endpoint: Endpoint, row: Any, status: int | None, error: str | None
    ) -> None:
        attempts = row.attempts + 1
        delivered = status is not None and 200 <= status < 300
        if delivered or attempts > self._retries:
            async with self._db.write() as conn:
                gone = await conn.execute(
                    sa.delete(webhook_queue).where(webhook_queue.c.id == row.id)
                )
                if gone.rowcount:  # else: dropped from a full queue meanwhile, recorded then
                    outcome = "delivered" if delivered else "failed"
                    await conn.execute(_record(row, outcome, attempts, status, error, time.time()))
                    await _prune(conn, endpoint.name)
            if not delivered:
                log.warning(
                    "webhook %s: gave up on event %s: %s", endpoint.name, row.event_id, error
                )
            return
        async with self._db.write() as conn:
            await conn.execute(
                sa.update(webhook_queue)
                .where(webhook_queue.c.id == row.id)
                .values(attempts=attempts)
            )
        # Backoff: the receiver is failing; the event stays first in line.
        await asyncio.sleep(min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_MAX))

    async def _post(self, endpoint: Endpoint, body: bytes) -> tuple[int | None, str | None]:
        assert self._session is not None
        headers = {**endpoint.headers, "Content-Type": MEDIA_TYPE}
        if endpoint.secret is not None:
            headers[SIGNATURE_HEADER] = signature(endpoint.secret, body)
        try:
            async with self._session.post(endpoint.url, data=body, headers=headers) as answer:
                await answer.read()
                error = None if answer.status < 300 else f"{answer.status} {answer.reason}"
                return answer.status, error
        except TimeoutError:
            return None, f"no answer within {self._timeout:g} s"
        except aiohttp.ClientError as failure:
            return None, str(failure) or type(failure).__name__


def _record(
    row: Any, outcome: str, attempts: int, status: int | None, error: str | None, now: float
) -> Any:
    return sa.insert(webhook_deliveries).values(
        webhook=row.webhook,
        event_id=row.event_id,
        action=row.action,
        repository=row.repository,
        outcome=outcome,
        attempts=attempts,
        status=status,
        error=error,
        time=now,
    )


async def _prune(conn: Any, name: str) -> None:
    keep = (
        sa.select(webhook_deliveries.c.id)
        .where(webhook_deliveries.c.webhook == name)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(HISTORY)
    )
    await conn.execute(
        sa.delete(webhook_deliveries).where(
            webhook_deliveries.c.webhook == name,
            webhook_deliveries.c.id.not_in(keep.scalar_subquery()),
        )
    )
