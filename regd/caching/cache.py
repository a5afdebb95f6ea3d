"""One bounded cache for state that other writers (this process, or other replicas) change.

Every entry is kept with the *generation* of the state it was read at: a counter the
writers bump in the transaction that changes the state (a repository's ``generation``
column, a row of the ``generations`` table; ``None`` with SQLite, where this process is
the only writer and drops entries itself). A lookup names the generation the caller has
just read, and an entry filled at another generation is not returned. So a replica never
answers from what another replica has already changed.

Within one process, a write drops the entries it changed (:meth:`Cache.discard`,
:meth:`Cache.discard_where`, :meth:`Cache.clear`), and every drop bumps :attr:`Cache.epoch`:
a reader notes the epoch before it reads the database and :meth:`Cache.put` refuses the
value when a drop came in between (the read may have raced the write).

The bound: at most ``max_entries`` entries and, when ``weigh`` is given, at most
``max_weight`` units of weight in all (say, tag names held); past either, the least
recently used entries go first. An entry may also carry an expiry (``ttl`` for all, or
``expires_in`` for one), after which it is not returned.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from regd.caching.inflight import InFlight

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    generation: int | None
    expires: float | None
    weight: int


class Cache(Generic[K, V]):
    """A bounded LRU map of ``key -> value``, each value with the generation it was read at."""

    def __init__(
        self,
        max_entries: int,
        *,
        ttl: float | None = None,
        max_weight: int | None = None,
        weigh: Callable[[V], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("a cache holds at least one entry")
        if (max_weight is None) != (weigh is None):
            raise ValueError("max_weight and weigh go together")
        self.max_entries = max_entries
        self.max_weight = max_weight
        self._ttl = ttl
        self._weigh = weigh
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._weight = 0
        #: Bumped by every drop: a value read across one is not kept (see :meth:`put`).
        self.epoch = 0
        self._reads: InFlight[Hashable, object] = InFlight()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def weight(self) -> int:
        """The summed weight of the entries held (0 without ``weigh``)."""
        return self._weight

    def get(self, key: K, generation: int | None = None) -> V | None:
        """The value kept for ``key`` at ``generation``, if still fresh; None otherwise."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.generation != generation or (
            entry.expires is not None and entry.expires <= self._clock()
        ):
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(
        self,
        key: K,
        value: V,
        generation: int | None = None,
        *,
        epoch: int | None = None,
        expires_in: float | None = None,
    ) -> bool:
        """Keep ``value``, read at ``generation``; False (not kept) when a drop happened
        since ``epoch`` (the :attr:`epoch` noted before the read) or it is already expired."""
        if epoch is not None and epoch != self.epoch:
            return False
        lifetime = self._ttl if expires_in is None else expires_in
        if self._ttl is not None and lifetime is not None:
            lifetime = min(lifetime, self._ttl)
        if lifetime is not None and lifetime <= 0:
            return False
        expires = None if lifetime is None else self._clock() + lifetime
        weight = 0 if self._weigh is None else self._weigh(value)
        if self.max_weight is not None and weight > self.max_weight:
            return False
        self._remove(key)
        self._entries[key] = _Entry(value, generation, expires, weight)
        self._weight += weight
        while len(self._entries) > self.max_entries or (
            self.max_weight is not None and self._weight > self.max_weight
        ):
            _, evicted = self._entries.popitem(last=False)
            self._weight -= evicted.weight
        return True

    async def get_or_read(
        self, key: K, generation: int | None, read: Callable[[], Awaitable[T]]
    ) -> V | T:
        """The value kept for ``key`` at ``generation``; else what ``read()`` returns, kept
        unless it is None or a drop raced the read (the read-through every user repeats).

        Concurrent misses of one key share one ``read()`` (:class:`InFlight`): a cold or
        expired entry wanted by 500 requests at once costs one database read, not 500
        queued for the connection pool, the last of which waited seconds. A caller that
        comes after a drop never joins a read started before it (the epoch is in the key).
        """
        cached = self.get(key, generation)
        if cached is not None:
            return cached
        epoch = self.epoch

        async def read_and_keep() -> object:
            value = await read()
            if value is not None:
                self.put(key, cast(V, value), generation, epoch=epoch)
            return value

        return cast("V | T", await self._reads.run((key, generation, epoch), read_and_keep))

    def discard(self, key: K) -> None:
        """Drop ``key`` (its state changed)."""
        self.epoch += 1
        self._remove(key)

    def discard_where(self, changed: Callable[[K], bool]) -> None:
        """Drop every key for which ``changed`` is true."""
        self.epoch += 1
        for key in [key for key in self._entries if changed(key)]:
            self._remove(key)

    def clear(self) -> None:
        """Drop everything."""
        self.epoch += 1
        self._entries.clear()
        self._weight = 0

    def _remove(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._weight -= entry.weight
