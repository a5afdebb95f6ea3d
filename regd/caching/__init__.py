"""The two pieces every in-process cache of regd is made of.

- :class:`Cache` — one bounded map from a key to a value and the generation it was read
  at (least recently used first out, optionally with a weight bound and an expiry).
- :class:`InFlight` — one run of a piece of work per key at a time; the callers that
  ask meanwhile wait for it.

Pure Python, no regd imports: the lowest layer, usable by every other.
"""

from regd.caching.cache import Cache
from regd.caching.inflight import InFlight

__all__ = ["Cache", "InFlight"]
