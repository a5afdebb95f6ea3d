"""Webhook endpoints in the database: validation, create, list, show, delete."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import sqlalchemy as sa

from regd.db import Database
from regd.db.schema import webhook_deliveries, webhook_queue, webhooks
from regd.errors import ErrorKind, RequestError

#: What an endpoint may subscribe to. ``pull-through`` is a fetch from an upstream.
ACTIONS = ("push", "pull", "delete", "tag", "mount", "pull-through")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


class NotifyError(RequestError):
    """A webhook request that cannot be done (problem+json on /api/v1)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    url: str
    events: tuple[str, ...] = ACTIONS
    repositories: str = "*"
    headers: dict[str, str] = field(default_factory=dict)
    secret: str | None = None
    created_at: float = 0.0

    def wants(self, action: str, repository: str) -> bool:
        return action in self.events and fnmatchcase(repository, self.repositories)

    def public(self) -> dict[str, Any]:
        """What the API shows: header values and the secret stay hidden."""
        return {
            "name": self.name,
            "url": self.url,
            "events": list(self.events),
            "repositories": self.repositories,
            "headers": sorted(self.headers),
            "signed": self.secret is not None,
            "created-at": self.created_at,
        }


def endpoint_from(body: dict[str, Any]) -> Endpoint:
    """An endpoint from an API body; an INVALID ``NotifyError`` saying what is wrong."""
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise NotifyError(ErrorKind.INVALID, "'name' is required: [a-z0-9][a-z0-9._-]{0,63}")
    url = body.get("url")
    if not isinstance(url, str) or not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise NotifyError(ErrorKind.INVALID, "'url' is required: an http:// or https:// URL")
    events = body.get("events", list(ACTIONS))
    if not isinstance(events, list) or not events or any(event not in ACTIONS for event in events):
        raise NotifyError(
            ErrorKind.INVALID, f"'events' is a non-empty list of {', '.join(ACTIONS)}"
        )
    repositories = body.get("repositories", "*")
    if not isinstance(repositories, str) or not repositories:
        raise NotifyError(
            ErrorKind.INVALID, "'repositories' is a glob of repository names (default '*')"
        )
    headers = body.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and _HEADER.fullmatch(k) and isinstance(v, str) and "\n" not in v
        for k, v in headers.items()
    ):
        raise NotifyError(
            ErrorKind.INVALID, "'headers' is an object of header names to string values"
        )
    secret = body.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
        raise NotifyError(
            ErrorKind.INVALID, "'secret' (the HMAC key) is a string of at least 16 characters"
        )
    unknown = set(body) - {"name", "url", "events", "repositories", "headers", "secret"}
    if unknown:
        raise NotifyError(ErrorKind.INVALID, f"unknown field(s): {', '.join(sorted(unknown))}")
    ordered = tuple(action for action in ACTIONS if action in events)
    return Endpoint(name, url, ordered, repositories, dict(headers), secret, time.time())


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        row.name,
        row.url,
        tuple(json.loads(row.events)),
        row.repositories,
        json.loads(row.headers),
        row.secret,
        row.created_at,
    )


class Endpoints:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[Endpoint]:
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(webhooks).order_by(webhooks.c.name))).all()
        return [_endpoint(row) for row in rows]

    async def get(self, name: str) -> Endpoint:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(webhooks).where(webhooks.c.name == name))).first()
        if row is None:
            raise NotifyError(ErrorKind.NOT_FOUND, f"no webhook {name!r}")
        return _endpoint(row)

    async def create(self, endpoint: Endpoint) -> None:
        async with self._db.write() as conn:
            if await conn.scalar(
                sa.select(webhooks.c.name).where(webhooks.c.name == endpoint.name)
            ):
                raise NotifyError(ErrorKind.CONFLICT, f"webhook {endpoint.name!r} exists")
            await conn.execute(
                sa.insert(webhooks).values(
                    name=endpoint.name,
                    url=endpoint.url,
                    events=json.dumps(list(endpoint.events)),
                    repositories=endpoint.repositories,
                    headers=json.dumps(endpoint.headers),
                    secret=endpoint.secret,
                    created_at=endpoint.created_at,
                )
            )

    async def delete(self, name: str) -> None:
        """The endpoint, its queue and its delivery history."""
        async with self._db.write() as conn:
            gone = await conn.execute(sa.delete(webhooks).where(webhooks.c.name == name))
            await conn.execute(sa.delete(webhook_queue).where(webhook_queue.c.webhook == name))
            await conn.execute(
                sa.delete(webhook_deliveries).where(webhook_deliveries.c.webhook == name)
            )
        if not gone.rowcount:
            raise NotifyError(ErrorKind.NOT_FOUND, f"no webhook {name!r}")

    async def deliveries(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        """The latest deliveries (newest first) and the events still queued (oldest first)."""
        await self.get(name)
        async with self._db.read() as conn:
            done = (
                await conn.execute(
                    sa.select(webhook_deliveries)
                    .where(webhook_deliveries.c.webhook == name)
                    .order_by(webhook_deliveries.c.id.desc())
                    .limit(limit)
                )
            ).all()
            queued = (
                await conn.execute(
                    sa.select(webhook_queue)
                    .where(webhook_queue.c.webhook == name)
                    .order_by(webhook_queue.c.id)
                    .limit(limit)
                )
            ).all()
        history = [
            {
                "event-id": row.event_id,
                "action": row.action,
                "repository": row.repository,
                "outcome": row.outcome,
                "attempts": row.attempts,
                "status": row.status,
                "error": row.error,
                "time": row.time,
            }
            for row in done
        ]
        waiting = [
            {
                "event-id": row.event_id,
                "action": row.action,
                "repository": row.repository,
                "outcome": "queued",
                "attempts": row.attempts,
                "status": None,
                "error": None,
                "time": row.created_at,
            }
            for row in queued
        ]
        return waiting + history
