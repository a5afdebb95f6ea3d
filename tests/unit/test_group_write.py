"""regd.audit.GroupWrite: what arrives while one write runs goes in the next one."""

from __future__ import annotations

import asyncio

from regd.audit import GroupWrite


def test_items_added_during_a_write_are_written_together_and_every_add_waits_for_its_own() -> None:
    async def scenario() -> None:
        writes: list[list[int]] = []
        release = asyncio.Event()

        async def write(items: list[int]) -> None:
            writes.append(items)
            await release.wait()

        group: GroupWrite[int] = GroupWrite(write)
        first = asyncio.create_task(group.add(0))
        await asyncio.sleep(0)  # (a yield: the first write has started and is waiting)
        burst = [asyncio.create_task(group.add(n)) for n in range(1, 51)]
        gone = asyncio.create_task(group.add(99))
        await asyncio.sleep(0)
        gone.cancel()  # a caller that goes away (client disconnected): its item stays
        assert writes == [[0]]
        assert not first.done()
        release.set()
        await asyncio.gather(first, *burst)
        assert writes == [[0], [*range(1, 51), 99]]

    asyncio.run(scenario())
