"""One request in flight, the others wait: concurrent asks for one key share one run.

The run is a task of its own, awaited through :func:`asyncio.shield`: a caller that goes
away (cancelled, its client disconnected) stops waiting and nobody else — not even when
it was the caller that started the run. A run that fails fails for every caller waiting
on it, and is forgotten at once: the next ask starts a new run. A run cancelled (at
shutdown) raises :class:`asyncio.CancelledError` in the callers waiting on it.

Callers that must not join a run started before some change put what they must see in
the key (an epoch, a generation): a run under an older key then finishes for its own
callers while a new one starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class InFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._runs: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        """Runs under way."""
        return len(self._runs)

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        """``work()``'s result, run once for all the callers of ``key`` meanwhile."""
        future = self._runs.get(key)
        if future is None:
            future = asyncio.ensure_future(work())
            self._runs[key] = future
            future.add_done_callback(partial(self._finished, key))
        return await asyncio.shield(future)

    def _finished(self, key: K, future: asyncio.Future[V]) -> None:
        if self._runs.get(key) is future:
            del self._runs[key]
        if not future.cancelled():
            future.exception()  # retrieved: every caller may have gone away
