"""Wall-clock time for metadata timestamps (one place, so tests read real values)."""

from __future__ import annotations

import time


def now() -> float:
    return time.time()
