"""Taking queued events in batches (what the SSE relay does when a viewer fell behind)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from scripts.stack.processes import apoll
from services.common.bus import EventBus
from services.common.events import MessageDelta
from services.common.sessions import BusKey
from services.gateway.fanout import Fanout, Subscription
from tests.integration.gateway.listening import text_of


@pytest.fixture
async def fanout(redis_url: str) -> AsyncIterator[tuple[Fanout, EventBus]]:
    client = aioredis.from_url(redis_url)
    bus = EventBus(client, maxlen=50_000, ttl_s=600)
    async with Fanout(client, bus, queue_size=20_000) as fan:
        yield fan, bus
    await client.aclose()


async def listener_reaches(sub: Subscription, state: Callable[[Any], bool]) -> None:
    """Poll until the subscription's listener (its backlog and waiter) is in `state`."""
    listener = sub._listener
    assert listener is not None

    async def reached() -> bool:
        return state(listener)

    assert await apoll(reached, 5, 0.001)


def new_key() -> BusKey:
    return BusKey("t", f"s-{uuid.uuid4().hex[:12]}")


def delta(key: BusKey, text: str) -> MessageDelta:
    return MessageDelta(session_id=key.session_id, turn_id="t", text=text)


async def test_batches_keep_order_across_backfill_and_live(
    fanout: tuple[Fanout, EventBus],
) -> None:
    fan, bus = fanout
    key = new_key()
    for n in range(50):  # in the log before anyone listens
        await bus.publish(key, delta(key, str(n)))
    seen: list[str] = []
    batches: list[int] = []
    async with fan.listen(key, after="0") as sub:

        async def publish_live() -> None:
            for n in range(50, 300):
                await bus.publish(key, delta(key, str(n)))

        publisher = asyncio.create_task(publish_live())
        async with asyncio.timeout(30):
            async for first in sub:
                batch = [first, *sub.take_ready(16)]
                assert len(batch) <= 17
                batches.append(len(batch))
                seen += [text_of(event) for event in batch]
                if len(seen) >= 300:
                    break
                await asyncio.sleep(0.001)  # a slow viewer: events queue up meanwhile
        await publisher
    assert seen == [str(n) for n in range(300)]
    assert max(batches) > 1


async def test_end_stops_a_waiting_listener_and_a_resume_gets_what_it_did_not_yield(
    fanout: tuple[Fanout, EventBus],
) -> None:
    fan, bus = fanout
    key = new_key()
    async with fan.listen(key) as sub:
        await bus.publish(key, delta(key, "0"))
        iterator = aiter(sub)
        async with asyncio.timeout(10):
            first = await anext(iterator)
            waiting = asyncio.create_task(anext(iterator, None))
            await listener_reaches(sub, lambda listener: listener.waiter is not None)
            sub.end()  # server shutdown: the stream ends instead of waiting on
            assert await waiting is None
        await bus.publish(key, delta(key, "1"))
    assert text_of(first) == "0"
    async with fan.listen(key, after=sub.last_id) as resumed:
        async with asyncio.timeout(10):
            assert text_of(await anext(aiter(resumed))) == "1"


async def test_end_drops_queued_events_a_resume_then_replays(
    fanout: tuple[Fanout, EventBus],
) -> None:
    fan, bus = fanout
    key = new_key()
    async with fan.listen(key) as sub:
        for n in range(3):
            await bus.publish(key, delta(key, str(n)))
        iterator = aiter(sub)
        async with asyncio.timeout(10):
            first = await anext(iterator)
            await listener_reaches(sub, lambda listener: len(listener.backlog) == 2)
            sub.end()
            rest = [event async for event in iterator]
    assert (text_of(first), rest) == ("0", [])
    async with fan.listen(key, after=sub.last_id) as resumed:
        async with asyncio.timeout(10):
            replayed = [text_of(await anext(aiter(resumed))) for _ in range(2)]
    assert replayed == ["1", "2"]


async def test_replay_only_ends_at_the_end_of_the_log(fanout: tuple[Fanout, EventBus]) -> None:
    fan, bus = fanout
    key = new_key()
    for n in range(3):
        await bus.publish(key, delta(key, str(n)))
    async with fan.listen(key, after="0") as sub:
        sub.replay_only()
        async with asyncio.timeout(10):
            replayed = [text_of(event) async for event in sub]
    assert replayed == ["0", "1", "2"]


async def test_replay_only_of_a_lost_log_is_a_gap_then_the_end(
    fanout: tuple[Fanout, EventBus],
) -> None:
    fan, bus = fanout
    key = BusKey(
        "t", f"s-{uuid.uuid4().hex[:12]}"
    )  # nothing in the log: it expired, or Redis lost it
    async with fan.listen(key, after="0") as sub:
        sub.replay_only()
        async with asyncio.timeout(10):
            events = [event async for event in sub]
    assert [event.type for event in events] == ["stream.gap"]
    async with fan.listen(key, after="0") as live:  # a listener of what is to come: no gap
        await bus.publish(key, delta(key, "new"))
        async with asyncio.timeout(10):
            assert text_of(await anext(aiter(live))) == "new"
