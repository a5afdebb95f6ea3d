"""regd.caching.Cache: the one bounded cache every in-process cache of regd is built on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from regd.caching import Cache


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_is_returned_only_at_the_generation_it_was_read_at() -> None:
    cache: Cache[str, str] = Cache(4)
    cache.put("tag", "sha256:a", generation=7)
    assert cache.get("tag", 7) == "sha256:a"
    assert cache.get("tag", 8) is None  # another replica changed it since
    assert cache.get("tag", 7) is None  # and the stale entry is gone
    cache.put("sqlite", "x")  # no generation: SQLite, this process invalidates
    assert cache.get("sqlite") == "x"
    assert cache.get("sqlite", 0) is None


def test_the_entry_bound_holds_and_the_least_recently_used_goes_first() -> None:
    cache: Cache[int, int] = Cache(3)
    for key in range(3):
        cache.put(key, key)
    assert cache.get(0) == 0  # 0 is now the most recently used
    cache.put(3, 3)
    assert len(cache) == 3
    assert cache.get(1) is None  # the least recently used went
    assert [cache.get(key) for key in (0, 2, 3)] == [0, 2, 3]
    for key in range(10_000):
        cache.put(key, key)
    assert len(cache) == cache.max_entries == 3


def test_the_weight_bound_holds() -> None:
    cache: Cache[str, tuple[str, ...]] = Cache(100, max_weight=5, weigh=len)
    cache.put("a", ("1", "2", "3"))
    cache.put("b", ("1", "2"))
    assert cache.weight == 5
    cache.put("c", ("1",))  # 6 > 5: "a", the least recently used, goes
    assert cache.get("a") is None
    assert cache.weight == 3
    assert not cache.put("huge", tuple("123456"))  # heavier than the bound: not kept
    assert cache.get("b") == ("1", "2")
    cache.discard("b")
    assert cache.weight == 1
    cache.clear()
    assert cache.weight == 0
    assert len(cache) == 0


def test_entries_expire() -> None:
    clock = _Clock()
    cache: Cache[str, str] = Cache(4, ttl=5.0, clock=clock)
    cache.put("link", "10")
    cache.put("short", "20", expires_in=1.0)  # its own expiry, shorter
    cache.put("long", "30", expires_in=60.0)  # never past the cache's ttl
    assert not cache.put("gone", "40", expires_in=-1.0)  # already expired: not kept
    clock.now += 1.0
    assert cache.get("short") is None
    assert cache.get("link") == "10"
    clock.now += 4.0
    assert cache.get("link") is None
    assert cache.get("long") is None
    assert len(cache) == 0


def test_a_read_that_raced_a_drop_is_not_kept() -> None:
    cache: Cache[tuple[int, str], str] = Cache(8)
    epoch = cache.epoch  # a reader notes the epoch, then reads the database...
    cache.discard((1, "latest"))  # ...while a writer changes the tag
    assert not cache.put((1, "latest"), "sha256:old", epoch=epoch)
    assert cache.get((1, "latest")) is None
    epoch = cache.epoch
    assert cache.put((1, "latest"), "sha256:new", epoch=epoch)
    cache.put((2, "latest"), "sha256:other")
    cache.discard_where(lambda key: key[0] == 1)  # repository 1 deleted
    assert cache.get((1, "latest")) is None
    assert cache.get((2, "latest")) == "sha256:other"
    assert cache.epoch > epoch


def test_a_cache_is_bounded_by_construction() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        Cache(0)
    with pytest.raises(ValueError, match="go together"):
        Cache(1, max_weight=10)


def test_get_or_read_keeps_what_it_read_unless_a_drop_raced_it() -> None:
    async def scenario() -> None:
        cache: Cache[str, str] = Cache(4)
        reads: list[str] = []

        async def read() -> str | None:
            reads.append("read")
            return "sha256:a"

        assert await cache.get_or_read("tag", 3, read) == "sha256:a"
        assert await cache.get_or_read("tag", 3, read) == "sha256:a"  # kept
        assert len(reads) == 1
        assert await cache.get_or_read("tag", 4, read) == "sha256:a"  # another generation
        assert len(reads) == 2

        async def racing() -> str | None:
            cache.discard("other")  # a write drops something while this reads
            return "sha256:stale?"

        assert await cache.get_or_read("raced", None, racing) == "sha256:stale?"
        assert cache.get("raced") is None  # answered, not kept

        async def nothing() -> str | None:
            return None

        assert await cache.get_or_read("missing", None, nothing) is None
        assert len(cache) == 1  # only "tag"

    asyncio.run(scenario())


def test_concurrent_misses_of_one_key_share_one_read() -> None:
    """A herd (a cold start, an expired entry) asking for one key reads the database once;
    the readers of another key or generation, and those that come after a drop, do not
    join that read."""

    async def scenario() -> None:
        cache: Cache[str, int] = Cache(8)
        release = asyncio.Event()
        reads: list[tuple[str, int | None]] = []

        def reader(key: str, generation: int | None, value: int) -> Callable[[], Awaitable[int]]:
            async def read() -> int:
                reads.append((key, generation))
                await release.wait()
                return value

            return read

        herd = [
            asyncio.create_task(cache.get_or_read("blob", 1, reader("blob", 1, 7)))
            for _ in range(500)
        ]
        other_key = asyncio.create_task(cache.get_or_read("tag", 1, reader("tag", 1, 8)))
        other_generation = asyncio.create_task(cache.get_or_read("blob", 2, reader("blob", 2, 9)))
        await asyncio.sleep(0)  # every task is now waiting on its read
        cache.discard("unrelated")  # a write: later readers must not join the reads above
        after_drop = asyncio.create_task(cache.get_or_read("blob", 1, reader("blob", 1, 10)))
        await asyncio.sleep(0)
        release.set()
        assert set(await asyncio.gather(*herd)) == {7}
        assert (await other_key, await other_generation, await after_drop) == (8, 9, 10)
        assert sorted(reads) == [("blob", 1), ("blob", 1), ("blob", 2), ("tag", 1)]
        assert cache.get("blob", 1) == 10  # the read after the drop was kept, the raced one not

    asyncio.run(scenario())
