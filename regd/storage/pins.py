"""Pins of blobs about to be linked, in this process: what removal must not take."""

from __future__ import annotations

import time
from typing import Final

#: Seconds after which a pin nobody released (a commit whose link failed) stops counting.
PIN_TTL: Final = 3600.0


class Pins:
    """``algorithm:hex`` -> (pins held, monotonic time of the latest); event-loop thread only."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[int, float]] = {}

    def pin(self, algorithm: str, hexdigest: str) -> None:
        key = f"{algorithm}:{hexdigest}"
        held = self._held.get(key, (0, 0.0))[0]
        self._held[key] = (held + 1, time.monotonic())

    def pinned(self, algorithm: str, hexdigest: str) -> bool:
        entry = self._held.get(f"{algorithm}:{hexdigest}")
        return entry is not None and time.monotonic() - entry[1] < PIN_TTL

    def unpin(self, algorithm: str, hexdigest: str) -> None:
        key = f"{algorithm}:{hexdigest}"
        entry = self._held.get(key)
        if entry is None:
            return
        if entry[0] <= 1:
            del self._held[key]
        else:
            self._held[key] = (entry[0] - 1, entry[1])
