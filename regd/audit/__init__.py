"""The audit log: security-relevant events, each one JSON line and one database row.

Everything that records an event calls :meth:`AuditLog.record` (HTTP requests go through
the audit middleware in :mod:`regd.http.audit`; ``regd gc`` and the daemon's collections
call it directly). A line holds the time, the event, the principal, the source address,
the request id, the outcome and details that are names (repository, tag, token id, secret
name) — never a password, token, secret value or request body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar

import sqlalchemy as sa

from regd.db import Database
from regd.db.schema import audit_events

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Detail keys that could carry a secret: refused whatever a caller passes.
_SECRET_KEYS = ("password", "secret", "token", "authorization", "data", "key")
#: Details that are names although their key looks like a secret's.
_NAME_KEYS = ("secret_name", "token_id")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    time: float
    event: str
    principal: str
    source: str
    request_id: str
    outcome: str
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": _iso(self.time),
            "event": self.event,
            "principal": self.principal,
            "source": self.source,
            "request-id": self.request_id,
            "outcome": self.outcome,
            "details": self.details,
        }


def _iso(moment: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"
    )


def _safe(details: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in details.items()
        if key in _NAME_KEYS or not any(word in key.lower() for word in _SECRET_KEYS)
    }


class GroupWrite(Generic[T]):
    """Items added while a write runs are written together by the next one; :meth:`add`
    returns once its item is written (``write`` must not raise: it logs its failures)."""

    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._pending: list[T] = []
        self._done: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def add(self, item: T) -> None:
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        self._pending.append(item)
        done = self._done
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        await asyncio.shield(done)

    async def _run(self) -> None:
        try:
            while self._pending:
                items, done = self._pending, self._done
                self._pending, self._done = [], None
                try:
                    await self._write(items)
                finally:
                    if done is not None and not done.done():
                        done.set_result(None)
        finally:
            self._task = None
            if self._done is not None and not self._done.done():  # cancelled: nobody hangs
                self._done.set_result(None)
            self._pending, self._done = [], None


class AuditLog:
    """Where audit events go: the database (always), a file and/or stderr (settings)."""

    def __init__(self, db: Database, file: str = "", stderr: bool = False) -> None:
        self._db = db
        # Events recorded while one insert runs go in the next, in one transaction: a burst
        # (a thousand failed logins, fifty pushes) costs a few writes, not one each.
        self._rows: GroupWrite[dict[str, Any]] = GroupWrite(self._insert)
        self._lock = threading.Lock()
        self._streams: list[TextIO] = []
        self._owned: TextIO | None = None
        if file:
            path = Path(file).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = path.open("a", encoding="utf-8", buffering=1)
            path.chmod(0o600)
            self._streams.append(stream)
            self._owned = stream
        if stderr:
            self._streams.append(sys.stderr)

    async def record(
        self,
        event: str,
        *,
        principal: str = "anonymous",
        source: str = "",
        request_id: str = "",
        outcome: str = "success",
        **details: Any,
    ) -> AuditEvent:
        """Record ``event`` (``login``, ``token.create``, ``push``, ``gc``, …).

        ``outcome`` is ``success``, ``denied`` (401/403) or ``failure``; ``details`` are
        names only — keys that look like a secret's (password, token, secret, …) are dropped.
        A failure to store it is logged, never raised: auditing does not break requests.
        """
        entry = AuditEvent(
            time.time(), event, principal, source or "", request_id, outcome, _safe(details)
        )
        line = json.dumps(entry.as_dict(), separators=(",", ":"), default=str) + "\n"
        with self._lock:
            for stream in self._streams:
                try:
                    stream.write(line)
                    stream.flush()
                except OSError:
                    log.exception("writing the audit log failed")
        await self._rows.add(
            {
                "time": entry.time,
                "event": entry.event,
                "principal": entry.principal[:160],
                "source": entry.source[:64],
                "request_id": entry.request_id[:64],
                "outcome": entry.outcome,
                "details": json.dumps(entry.details, default=str),
            }
        )
        return entry

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        try:
            async with self._db.write() as conn:
                await conn.execute(sa.insert(audit_events), rows)
        except Exception:
            log.exception("storing %d audit event(s) failed", len(rows))

    async def prune(self, older_than: float) -> int:
        """Delete the events recorded before ``older_than`` (unix time); how many."""
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.delete(audit_events).where(audit_events.c.time < older_than)
            )
        return int(result.rowcount or 0)

    async def events(
        self,
        since: float | None = None,
        principal: str | None = None,
        event: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Stored events, oldest first: from ``since``, of ``principal``, named ``event``
        (an exact name, or a prefix ending in ``.``: ``token.``)."""
        query = sa.select(audit_events).order_by(audit_events.c.id)
        if since is not None:
            query = query.where(audit_events.c.time >= since)
        if principal:
            query = query.where(audit_events.c.principal == principal)
        if event:
            column = audit_events.c.event
            query = query.where(
                column.startswith(event) if event.endswith(".") else column == event
            )
        query = query.limit(limit)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AuditEvent(
                row.time,
                row.event,
                row.principal,
                row.source,
                row.request_id,
                row.outcome,
                json.loads(row.details),
            )
            for row in rows
        ]

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
