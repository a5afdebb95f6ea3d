"""Slowing down repeated failed logins, per source address and per user name."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Final

log = logging.getLogger(__name__)

#: Failures allowed in a window before each further attempt is delayed.
FREE_FAILURES: Final = 5
WINDOW: Final = 300.0
MAX_DELAY: Final = 30.0
_MAX_KEYS: Final = 100_000


class LoginThrottle:
    def __init__(self) -> None:
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def _count(self, key: str, now: float) -> int:
        count, since = self._failures.get(key, (0, now))
        return 0 if now - since > WINDOW else count

    def delay(self, source: str, username: str) -> float:
        """Seconds to wait before answering this attempt (0 while under the threshold)."""
        now = time.monotonic()
        excess = (
            max(self._count(f"s:{source}", now), self._count(f"u:{username}", now)) - FREE_FAILURES
        )
        return 0.0 if excess < 0 else min(MAX_DELAY, 0.25 * 2**excess)

    def failed(self, source: str, username: str) -> None:
        now = time.monotonic()
        for key in (f"s:{source}", f"u:{username}"):
            count = self._count(key, now)
            since = self._failures.get(key, (0, now))[1] if count else now
            self._failures[key] = (count + 1, since)
            self._failures.move_to_end(key)
        while len(self._failures) > _MAX_KEYS:
            self._failures.popitem(last=False)
        count = self._count(f"u:{username}", now)
        if count >= FREE_FAILURES:
            # Never the secret: only who, from where, and how often.
            log.warning(
                "repeated failed logins: user %r from %s (%d in a row)", username, source, count
            )

    def succeeded(self, source: str, username: str) -> None:
        self._failures.pop(f"u:{username}", None)
