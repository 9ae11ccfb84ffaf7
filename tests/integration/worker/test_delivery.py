"""An activity's publisher on a real Redis: in order, batched under load, tolerant of outages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from scripts.stack import servers
from services.common.bus import EventBus, RawPublish
from services.common.events import AgentHandoff, MessageDelta, StreamGap, ToolResult, parse_event
from services.common.sessions import BusKey
from services.worker.delivery import StepPublisher


def publisher(bus: EventBus) -> StepPublisher:
    return StepPublisher(bus, BusKey("t", f"s-{uuid.uuid4().hex[:12]}"), "turn-1")


def delta(publish: StepPublisher, n: int) -> MessageDelta:
    return MessageDelta(session_id=publish.session_id, turn_id=publish.turn_id, text=str(n))


async def logged(bus: EventBus, key: BusKey) -> list[str]:
    """Each logged event as its type, or its text for a delta."""
    out = []
    async for event in bus.read_after(key, None):
        data = parse_event(event.data)
        out.append(data.text if isinstance(data, MessageDelta) else event.type)
    return out


class CountingBus(EventBus):
    """Counts round trips to Redis."""

    round_trips = 0

    async def publish_batch(self, key: BusKey, events: Sequence[RawPublish]) -> list[str]:
        self.round_trips += 1
        return await super().publish_batch(key, events)


async def test_posted_deltas_go_in_order_in_fewer_round_trips_than_events(
    redis: aioredis.Redis,
) -> None:
    bus = CountingBus(redis, ttl_s=60)
    publish = publisher(bus)
    publish.post(delta(publish, 0))
    await asyncio.sleep(0)  # one turn of the loop: the sender takes the first delta alone
    for n in range(1, 200):  # posted while it is on the wire, as a fast stream would
        publish.post(delta(publish, n))
    await publish.drain()
    texts = await logged(bus, publish.key)
    assert "".join(texts) == "".join(str(n) for n in range(200))  # every token, in order
    assert texts[0] == "0"  # the first went alone, at once
    assert len(texts) < 10  # what queued behind a batch on the wire went joined
    assert bus.round_trips < 10
    assert publish.gap_after is None


async def test_a_waited_publish_lands_after_the_deltas_posted_before_it(
    redis: aioredis.Redis,
) -> None:
    bus = EventBus(redis, ttl_s=60)
    publish = publisher(bus)
    for n in range(5):
        publish.post(delta(publish, n))
    result = ToolResult(
        session_id=publish.session_id, turn_id=publish.turn_id, call_id="c", name="x", output="o"
    )
    assert await publish(result, once="turn-1:c:tool.result")
    assert await publish(result, once="turn-1:c:tool.result")  # published once all the same
    texts = await logged(bus, publish.key)
    assert "".join(texts[:-1]) == "01234"
    assert texts[-1] == "tool.result"
    assert publish.last_id is not None


async def test_deltas_join_only_within_one_agent_and_never_across_another_event(
    redis: aioredis.Redis,
) -> None:
    bus = EventBus(redis, ttl_s=60)
    publish = publisher(bus)
    common = {"session_id": publish.session_id, "turn_id": publish.turn_id}
    publish.post(MessageDelta(**common, text="a", agent="router"))
    await asyncio.sleep(0)  # one turn of the loop: the sender takes "a" alone
    publish.post(MessageDelta(**common, text="b", agent="router"))
    publish.post(MessageDelta(**common, text="c", agent="router"))
    publish.post(MessageDelta(**common, text="d", agent="coach"))
    handoff = AgentHandoff(**common, from_agent="coach", to_agent="router")
    waited = asyncio.create_task(publish(handoff))
    await asyncio.sleep(0)  # the handoff is queued behind "d"
    publish.post(MessageDelta(**common, text="e", agent="router"))
    assert await waited
    await publish.drain()
    events = [parse_event(e.data) async for e in bus.read_after(publish.key, None)]
    seen = [(e.agent, e.text) if isinstance(e, MessageDelta) else e.type for e in events]
    assert seen == [
        ("router", "a"),
        ("router", "bc"),
        ("coach", "d"),
        "agent.handoff",
        ("router", "e"),
    ]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[list[servers.RedisServer]]:
    holder = [servers.start_redis(tmp_path / "redis")]
    yield holder
    holder[0].process.stop()


async def test_an_outage_costs_the_deltas_and_a_gap_says_so_once_the_bus_is_back(
    own_redis: list[servers.RedisServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.worker.delivery.RETRY_AFTER_S", 0.0)
    server = own_redis[0]
    client = aioredis.from_url(server.url, socket_timeout=2, socket_connect_timeout=2)
    bus = EventBus(client, ttl_s=60)
    publish = publisher(bus)
    try:
        publish.post(delta(publish, 0))
        await publish.drain()
        first = publish.last_id
        server.process.stop()
        publish.post(delta(publish, 1))
        await publish.drain()
        assert publish.gap_after == first  # lost, and owed a gap from the last one that landed
        own_redis[0] = server = servers.start_redis(tmp_path / "redis", port=server.port)
        publish.post(delta(publish, 2))
        await publish.drain()
        assert publish.gap_after is None
        # A restarted Redis without persistence lost the first delta too: the gap says from where.
        events = [event async for event in bus.read_after(publish.key, None)]
        assert [e.type for e in events] == ["stream.gap", "message.delta"]
        gap = parse_event(events[0].data)
        assert isinstance(gap, StreamGap)
        assert gap.after == first
        assert gap.session_id == publish.key.session_id  # the bare id, as every event, not the key
    finally:
        await client.aclose()
