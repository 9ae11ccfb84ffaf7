"""The per-process fan-out on a real Redis: order, no loss or duplicate, resume, outages, slow
readers (and the bus it reads)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from scripts.stack import servers
from scripts.stack.processes import free_port
from services.common.bus import BusEvent, EventBus, InvalidEventId
from services.common.events import MessageDelta, StreamGap, parse_event
from services.common.sessions import BusKey
from services.gateway.fanout import Fanout, ListenerOverflow, Subscription


def new_session() -> BusKey:
    return BusKey("t", f"s-{uuid.uuid4().hex[:12]}")


def delta(key: BusKey, n: int) -> MessageDelta:
    return MessageDelta(session_id=key.session_id, turn_id="t1", text=str(n))


async def collect(subscription: Subscription, count: int, within: float = 30.0) -> list[str]:
    """The texts of the next `count` events (fails on timeout)."""
    texts: list[str] = []

    async def run() -> None:
        async for event in subscription:
            texts.append(getattr(parse_event(event.data), "text", event.type))
            if len(texts) == count:
                return

    await asyncio.wait_for(run(), within)
    return texts


@pytest.fixture
async def fanout(redis: aioredis.Redis, bus: EventBus) -> AsyncIterator[Fanout]:
    async with Fanout(redis, bus, queue_size=20_000) as fan:
        yield fan


async def test_a_publish_once_is_logged_and_delivered_once(
    bus: EventBus, redis: aioredis.Redis, fanout: Fanout
) -> None:
    key = new_session()
    async with fanout.listen(key) as sub:
        first = await bus.publish(key, delta(key, 1), once="turn:call:tool.result")
        again = await bus.publish(key, delta(key, 1), once="turn:call:tool.result")
        other = await bus.publish(key, delta(key, 2), once="turn:other:tool.result")
        plain = await bus.publish(key, delta(key, 3))
        live = await collect(sub, 3, within=10)
    assert again == first
    assert [e.id async for e in bus.read_after(key, None)] == [first, other, plain]
    assert live == ["1", "2", "3"]
    assert 0 < await redis.ttl(f"da:once:{key}:turn:call:tool.result") <= 600


async def test_a_subscription_knows_how_many_local_listeners_follow_its_session(
    fanout: Fanout,
) -> None:
    key, other = new_session(), new_session()
    async with fanout.listen(key) as first, fanout.listen(other):
        assert first.audience == 1
        async with fanout.listen(key):
            assert first.audience == 2
        assert first.audience == 1


async def test_ten_thousand_events_reach_fifty_listeners_in_order(
    redis: aioredis.Redis, bus: EventBus
) -> None:
    key = new_session()
    total, per_fanout = 10_000, 25
    # Two fan-outs stand for two gateway processes, each with one pub/sub connection.
    async with Fanout(redis, bus, queue_size=total) as a, Fanout(redis, bus, queue_size=total) as b:
        subs = [fan.listen(key) for fan in (a, b) for _ in range(per_fanout)]
        for sub in subs:
            await sub.__aenter__()
        readers = [asyncio.create_task(collect(sub, total, within=120)) for sub in subs]
        async with redis.pipeline(transaction=False) as pipe:
            pipe_bus = EventBus(pipe)
            for n in range(total):
                await pipe_bus.publish(key, delta(key, n))
                if n % 500 == 499:
                    await pipe.execute()
            await pipe.execute()
        results = await asyncio.gather(*readers)
        for sub in subs:
            await sub.__aexit__(None, None, None)
        assert a.channel_count == b.channel_count == 0
    expected = [str(n) for n in range(total)]
    assert all(result == expected for result in results)


async def test_listener_resumes_from_its_last_id_with_exactly_the_rest(
    fanout: Fanout, bus: EventBus
) -> None:
    key = new_session()
    total = 300
    cut = random.Random(7).randrange(1, total - 1)
    seen: list[str] = []

    async def publish_all() -> None:
        for n in range(total):
            await bus.publish(key, delta(key, n))
            if n % 20 == 0:
                await asyncio.sleep(0)

    async with fanout.listen(key, after="0") as sub:
        publisher = asyncio.create_task(publish_all())
        seen += await collect(sub, cut)
        last_id = sub.last_id
    assert last_id is not None
    async with fanout.listen(key, after=last_id) as resumed:
        seen += await collect(resumed, total - cut)
    await publisher
    assert seen == [str(n) for n in range(total)]


async def test_listener_from_zero_gets_the_whole_log_then_live(
    fanout: Fanout, bus: EventBus
) -> None:
    key = new_session()
    for n in range(5):
        await bus.publish(key, delta(key, n))
    async with fanout.listen(key, after="0") as sub:
        reader = asyncio.create_task(collect(sub, 8))
        for n in range(5, 8):
            await bus.publish(key, delta(key, n))
        assert await reader == [str(n) for n in range(8)]


async def test_after_older_than_the_log_yields_stream_gap_first(redis: aioredis.Redis) -> None:
    key = new_session()
    small = EventBus(redis, maxlen=100, ttl_s=600)
    first = await small.publish(key, delta(key, 0))
    for n in range(1, 1000):
        await small.publish(key, delta(key, n))
    async with Fanout(redis, small) as fan, fan.listen(key, after=first) as sub:
        events = [event async for event in _take(sub, 2)]
    gap = parse_event(events[0].data)
    assert isinstance(gap, StreamGap)
    assert gap.session_id == key.session_id  # the bare id, as every event: never the bus key
    assert gap.after == first
    assert gap.first_available is not None
    following = parse_event(events[1].data)
    assert isinstance(following, MessageDelta)
    assert int(following.text) > 1


async def test_after_for_a_lost_log_yields_stream_gap(fanout: Fanout) -> None:
    key = new_session()
    async with fanout.listen(key, after="1700000000000-0") as sub:
        events = [event async for event in _take(sub, 1)]
    gap = parse_event(events[0].data)
    assert isinstance(gap, StreamGap)
    assert gap.session_id == key.session_id


async def test_malformed_after_is_rejected_before_subscribing(fanout: Fanout) -> None:
    with pytest.raises(InvalidEventId):
        fanout.listen(new_session(), after="not-an-id")
    assert fanout.channel_count == 0


async def test_slow_listener_is_cut_off_without_slowing_others(
    redis: aioredis.Redis, bus: EventBus
) -> None:
    key = new_session()
    total = 500
    async with Fanout(redis, bus, queue_size=50) as fan:
        async with fan.listen(key) as slow, fan.listen(key) as fast:
            reader = asyncio.create_task(collect(fast, total))
            for n in range(total):
                await bus.publish(key, delta(key, n))
                if n % 10 == 0:
                    await asyncio.sleep(0)  # let the fast reader keep up, as a live client would
            assert await reader == [str(n) for n in range(total)]
            with pytest.raises(ListenerOverflow):
                await collect(slow, 1)
            resume_after = slow.last_id
        assert fan.listener_count == 0
    # Cut off, it resumes from its last id (None: it saw nothing) and misses nothing.
    async with Fanout(redis, bus) as fan, fan.listen(key, after=resume_after or "0") as again:
        assert await collect(again, total) == [str(n) for n in range(total)]


async def _take(sub: Subscription, count: int) -> AsyncIterator[BusEvent]:
    taken = 0
    async for event in sub:
        yield event
        taken += 1
        if taken == count:
            return


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[list[servers.RedisServer]]:
    """A Redis of this test's own, with the append-only file on, so it can be restarted."""
    holder = [servers.start_redis(tmp_path / "redis", persist=True)]
    yield holder
    holder[0].process.stop()


async def test_listeners_resume_across_a_redis_restart(
    own_redis: list[servers.RedisServer],
) -> None:
    server = own_redis[0]
    client = aioredis.from_url(server.url)
    bus = EventBus(client)
    key = new_session()
    total, half = 400, 200

    async def publish(n: int) -> None:
        for _ in range(200):  # bounded: Redis is down for well under a second
            try:
                await bus.publish(key, delta(key, n))
                return
            except (RedisConnectionError, ConnectionError, OSError):
                await asyncio.sleep(0.02)
        raise AssertionError("Redis did not come back")

    async with Fanout(client, bus, reconnect_backoff_s=(0.02, 0.2)) as fan:
        subs = [fan.listen(key) for _ in range(5)]
        for sub in subs:
            await sub.__aenter__()
        readers = [asyncio.create_task(collect(sub, total)) for sub in subs]
        for n in range(half):
            await publish(n)
        own_redis[0] = servers.restart_redis(server)
        # Published at once, mostly before the fan-out has re-subscribed: only the log has them.
        for n in range(half, total):
            await publish(n)
        results = await asyncio.gather(*readers)
        assert fan.reconnects >= 1
        for sub in subs:
            await sub.__aexit__(None, None, None)
    await client.aclose()
    assert all(result == [str(n) for n in range(total)] for result in results)


async def test_fanout_starts_with_redis_down_and_serves_once_it_is_up(tmp_path: Path) -> None:
    port = free_port()
    client = aioredis.from_url(f"redis://127.0.0.1:{port}/0")
    fan = Fanout(client, EventBus(client), reconnect_backoff_s=(0.02, 0.1))
    await fan.start()  # must not raise: a gateway boots and reports not-ready instead
    key = new_session()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3), fan.listen(key):
            pass
    assert fan.listener_count == 0  # a listener given up on leaves nothing behind
    server = servers.start_redis(tmp_path / "late", port=port)
    try:
        async with fan.listen(key) as sub:
            reader = asyncio.create_task(collect(sub, 3))
            for n in range(3):
                await EventBus(client).publish(key, delta(key, n))
            assert await reader == ["0", "1", "2"]
    finally:
        await fan.close()
        await client.aclose()
        server.process.stop()
