"""regd.caching.InFlight: one request in flight, the others wait — the four places that
coalesce (pull-through manifests and tags, tag listings, credential checks) use it, so its
cancellation and error cases are shown here once."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from regd.caching import InFlight


class _Work:
    """A piece of work that runs until released, counting its runs."""

    def __init__(self) -> None:
        self.runs = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.failure: Exception | None = None

    async def __call__(self) -> str:
        self.runs += 1
        self.started.set()
        await self.release.wait()
        if self.failure is not None:
            raise self.failure
        return f"result {self.runs}"


def _run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(scenario)


def test_concurrent_callers_share_one_run_and_a_later_one_starts_another() -> None:
    async def scenario() -> None:
        flights: InFlight[str, str] = InFlight()
        work = _Work()
        callers = [asyncio.create_task(flights.run("k", work)) for _ in range(5)]
        await work.started.wait()
        assert len(flights) == 1
        work.release.set()
        assert await asyncio.gather(*callers) == ["result 1"] * 5
        assert work.runs == 1
        assert len(flights) == 0  # forgotten once done
        assert await flights.run("k", work) == "result 2"

    _run(scenario())


def test_other_keys_do_not_wait() -> None:
    async def scenario() -> None:
        flights: InFlight[str, str] = InFlight()
        slow, fast = _Work(), _Work()
        fast.release.set()
        waiting = asyncio.create_task(flights.run("slow", slow))
        await slow.started.wait()
        assert await flights.run("fast", fast) == "result 1"
        assert not waiting.done()
        slow.release.set()
        assert await waiting == "result 1"

    _run(scenario())


def test_a_waiter_that_gives_up_stops_nobody_else() -> None:
    async def scenario() -> None:
        flights: InFlight[str, str] = InFlight()
        work = _Work()
        leader = asyncio.create_task(flights.run("k", work))
        await work.started.wait()
        quitter = asyncio.create_task(flights.run("k", work))
        patient = asyncio.create_task(flights.run("k", work))
        await asyncio.sleep(0)  # both are waiting now
        quitter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await quitter
        work.release.set()
        assert await leader == "result 1"
        assert await patient == "result 1"
        assert work.runs == 1

    _run(scenario())


def test_a_leader_that_is_cancelled_does_not_cancel_the_run() -> None:
    async def scenario() -> None:
        flights: InFlight[str, str] = InFlight()
        work = _Work()
        leader = asyncio.create_task(flights.run("k", work))  # the caller that started it
        await work.started.wait()
        waiter = asyncio.create_task(flights.run("k", work))
        await asyncio.sleep(0)
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        assert len(flights) == 1  # still running for the waiter
        work.release.set()
        assert await waiter == "result 1"
        assert work.runs == 1

    _run(scenario())


def test_a_run_that_fails_fails_every_waiter_and_is_forgotten() -> None:
    async def scenario() -> None:
        flights: InFlight[str, str] = InFlight()
        work = _Work()
        work.failure = RuntimeError("upstream down")
        callers = [asyncio.create_task(flights.run("k", work)) for _ in range(3)]
        await work.started.wait()
        work.release.set()
        results = await asyncio.gather(*callers, return_exceptions=True)
        assert [str(result) for result in results] == ["upstream down"] * 3
        assert len(flights) == 0
        work.failure = None
        assert await flights.run("k", work) == "result 2"  # the next ask tries again

    _run(scenario())


def test_a_run_cancelled_at_shutdown_cancels_its_waiters() -> None:
    async def scenario() -> None:
        flights: InFlight[str, str] = InFlight()

        stop = asyncio.Event()

        async def stopped() -> str:
            await stop.wait()
            raise asyncio.CancelledError  # as a run cancelled by the loop's shutdown ends

        waiter = asyncio.create_task(flights.run("k", stopped))
        await asyncio.sleep(0)
        stop.set()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert len(flights) == 0

    _run(scenario())
