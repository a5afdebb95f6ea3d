"""Event notifications to webhooks: endpoints, a durable queue per endpoint, delivery.

:class:`Notifier` is the one way in: ``publish`` queues an event (distribution's envelope)
for every endpoint that wants it, in the database, so a restart loses nothing queued;
one delivery task per endpoint POSTs its events in order, retrying with exponential
backoff. See docs/operations.md, "Webhooks".
"""

from __future__ import annotations

from contextvars import ContextVar

from regd.notify.endpoints import ACTIONS, Endpoint, Endpoints, NotifyError
from regd.notify.notifier import Notifier

#: Set in a request's context when the pull-through cache fetched from an upstream.
PULLTHROUGH_FETCH: ContextVar[bool] = ContextVar("regd_pullthrough_fetch", default=False)

__all__ = ["ACTIONS", "PULLTHROUGH_FETCH", "Endpoint", "Endpoints", "Notifier", "NotifyError"]
