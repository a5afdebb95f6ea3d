"""Waiting for a real condition (never a sleep as synchronisation): the one ``wait_until``."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Seconds a helper waits for a condition before failing, when the test names none.
WAIT_TIMEOUT = 30.0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` until it holds; the seconds it took. AssertionError naming
    ``what`` after ``timeout`` seconds."""
    start = time.monotonic()
    deadline = start + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


def becomes_true(condition: Callable[[], bool], within: float) -> bool:
    """Whether ``condition`` holds at some point within ``within`` seconds (polled)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
