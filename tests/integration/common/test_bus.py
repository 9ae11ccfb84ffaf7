"""The event bus on a real Redis: the log, and the names its keys and channel have on the wire.

Live delivery to many listeners is the gateway's fan-out: tests/integration/gateway/test_fanout.py.
"""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from services.common.bus import EventBus
from services.common.events import MessageDelta
from services.common.sessions import BusKey


def new_key() -> BusKey:
    return BusKey("acme", f"s-{uuid.uuid4().hex[:12]}")


def delta(key: BusKey, n: int) -> MessageDelta:
    return MessageDelta(session_id=key.session_id, turn_id="t1", text=str(n))


async def test_publish_appends_to_log_with_ttl_and_returns_id(
    bus: EventBus, redis: aioredis.Redis
) -> None:
    key = new_key()
    first = await bus.publish(key, delta(key, 1))
    second = await bus.publish(key, delta(key, 2))
    logged = [event async for event in bus.read_after(key, None)]
    assert [event.id for event in logged] == [first, second]
    assert [event.type for event in logged] == ["message.delta"] * 2
    assert 0 < await redis.ttl(f"da:events:acme/{key.session_id}") <= 600
    assert [event.id async for event in bus.read_after(key, first)] == [second]


async def test_the_log_channel_and_once_key_keep_the_names_earlier_versions_used(
    bus: EventBus, redis: aioredis.Redis
) -> None:
    """A rolling upgrade finds the logs and channels the previous version wrote: the names are
    `da:events:<tenant>/<session>` and `da:once:<tenant>/<session>:<once>`, whatever type the
    code gives the key (tests/unit/common/test_bus_keys.py pins the cluster names too)."""
    key = new_key()
    name = f"acme/{key.session_id}"
    pubsub = redis.pubsub()
    await pubsub.subscribe(f"da:events:{name}")
    try:
        event_id = await bus.publish(key, delta(key, 1), once="turn:call:tool.result")
        message = None
        async with asyncio.timeout(5):
            while message is None:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
        assert message["data"].decode().split("\n", 1)[0] == event_id
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    assert await redis.exists(f"da:events:{name}", f"da:once:{name}:turn:call:tool.result") == 2
    # A log an earlier version wrote is this session's log.
    await redis.xadd(f"da:events:{name}", {"t": "turn.started", "d": "{}"}, id="9999999999999-0")
    assert [e.type async for e in bus.read_after(key, event_id)] == ["turn.started"]


async def test_a_gap_is_found_in_the_log_of_the_key(bus: EventBus, redis: aioredis.Redis) -> None:
    """What the bus tells a reader about a lost or trimmed log (the gateway's subscription
    builds the `stream.gap` from it, tests/integration/gateway/test_fanout.py)."""
    key = new_key()
    assert await bus.gap_after(key, "0") is None  # no log, nothing seen: nothing missed
    assert await bus.gap_after(key, "1-0") is not None  # it saw an event: the log was lost
    first = await bus.publish(key, delta(key, 1))
    await bus.publish(key, delta(key, 2))
    await redis.xtrim(f"da:events:acme/{key.session_id}", maxlen=1, approximate=False)
    gap = await bus.gap_after(key, first)
    assert gap is not None
    assert gap.trimmed
