"""Durations as people write them: ``4h``, ``30m``, ``1y2d5h``, or seconds (``90``, ``0.5``)."""

from __future__ import annotations

import re
from typing import Final

_PART: Final = re.compile(r"(\d+)([ywdhms])")
_UNITS: Final = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_SECONDS: Final = re.compile(r"\d+(\.\d*)?|\.\d+")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; ``ValueError`` (saying how to write one) when it is not a duration."""
    text = text.strip().lower()
    if _SECONDS.fullmatch(text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(
            f"invalid duration {text!r}: write seconds or a duration like 4h, 30m, 1d2h"
        )
    return float(sum(int(number) * _UNITS[unit] for number, unit in parts))
