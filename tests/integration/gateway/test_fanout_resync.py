"""The fan-out across pub/sub outages, on a Redis of each test's own: after a reconnect a
listener catches up from its position (where it started, if it had nothing yet), a `stream.gap`
first when the log lost part of what came after it, and a connection that goes silent (a paused
Redis, a dropped TCP path) is noticed by the health check, dropped and reconnected."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from scripts.stack import servers
from scripts.stack.processes import apoll
from services.common.bus import EventBus
from services.common.events import MessageDelta, StreamGap, parse_event
from services.common.sessions import BusKey
from services.gateway import subscription
from services.gateway.fanout import Fanout
from tests.integration.common.tcp_path import TcpPath
from tests.integration.gateway.listening import take, take_until, text_of

HEALTH_CHECK_S = 1.0


async def publish(bus: EventBus, key: BusKey, text: str) -> str:
    """Publish one delta, retrying while Redis is down (bounded)."""
    for _ in range(500):
        try:
            return await bus.publish(
                key, MessageDelta(session_id=key.session_id, turn_id="t", text=text)
            )
        except (RedisError, OSError):
            await asyncio.sleep(0.02)
    raise AssertionError("Redis did not come back")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[servers.RedisServer]:
    """A Redis of this test's own (it may be killed, restarted or paused), append-only file on."""
    server = servers.start_redis(tmp_path / "redis", persist=True)
    yield server
    server.process.signal(signal.SIGCONT)  # a stopped server would not see SIGTERM
    server.process.stop()


@pytest.fixture
async def direct(own_redis: servers.RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(own_redis.url)
    yield client
    await client.aclose()


def new_session() -> BusKey:
    return BusKey("t", f"s-{uuid.uuid4().hex[:12]}")


@pytest.mark.parametrize("outage", ["client-kill", "restart"])
async def test_a_live_only_listener_resyncs_from_where_it_started(
    outage: str, own_redis: servers.RedisServer, direct: aioredis.Redis
) -> None:
    key = new_session()
    bus = EventBus(direct)
    for n in range(10):  # before the listener: not for it, before or after a reconnect
        await publish(bus, key, f"old-{n}")
    # Slow to reconnect, so what is published right after the outage is only in the log.
    async with (
        Fanout(direct, bus, reconnect_backoff_s=(0.2, 0.5)) as fan,
        fan.listen(key) as sub,
    ):
        reader = asyncio.create_task(take(sub, 20))
        if outage == "client-kill":
            assert await direct.client_kill_filter(_type="pubsub") == 1
        else:
            servers.restart_redis(own_redis)
        for n in range(10):
            await publish(bus, key, str(n))

        async def reconnected() -> bool:
            return fan.reconnects >= 1

        assert await apoll(reconnected, 10)
        for n in range(10, 20):
            await publish(bus, key, str(n))
        events = await reader
    assert [text_of(event) for event in events] == [str(n) for n in range(20)]


async def test_an_event_published_while_the_origin_is_read_is_delivered_once(
    monkeypatch: pytest.MonkeyPatch, direct: aioredis.Redis
) -> None:
    """The origin is only where a catch-up starts, never a filter: an event published after
    the subscription was confirmed but before the log's end was read comes live, and counts."""
    key = new_session()
    bus = EventBus(direct)
    await publish(bus, key, "old")
    read_log_end = subscription.log_end

    async def publish_first(bus: EventBus, key: BusKey) -> str:
        await publish(bus, key, "0")
        return await read_log_end(bus, key)

    monkeypatch.setattr(subscription, "log_end", publish_first)
    async with Fanout(direct, bus) as fan, fan.listen(key) as sub:
        assert [text_of(event) for event in await take(sub, 1)] == ["0"]
        assert await direct.client_kill_filter(_type="pubsub") == 1
        for n in range(1, 4):
            await publish(bus, key, str(n))
        assert [text_of(event) for event in await take(sub, 3)] == ["1", "2", "3"]
        assert fan.reconnects >= 1


@pytest.mark.parametrize("seen", [True, False], ids=["after-events", "live-only"])
async def test_a_listener_trimmed_out_during_an_outage_gets_stream_gap_first(
    seen: bool, own_redis: servers.RedisServer, direct: aioredis.Redis
) -> None:
    key = new_session()
    publisher = EventBus(direct, maxlen=100, ttl_s=600)
    position = ""
    for n in range(5):
        position = await publish(publisher, key, f"old-{n}")
    async with TcpPath(own_redis.port) as path:
        client = aioredis.from_url(path.url)
        try:
            async with (
                Fanout(client, EventBus(client), reconnect_backoff_s=(0.02, 0.1)) as fan,
                fan.listen(key) as sub,
            ):
                if seen:
                    for n in range(5):
                        await publish(publisher, key, str(n))
                    assert [text_of(e) for e in await take(sub, 5)] == [str(n) for n in range(5)]
                    assert sub.last_id is not None
                    position = sub.last_id
                path.cut()

                async def noticed() -> bool:
                    return fan.reconnects >= 1

                assert await apoll(noticed, 10)
                # Published with the fan-out cut off: the log keeps about the last 100 only.
                for n in range(5, 1005):
                    await publish(publisher, key, str(n))
                path.restore()
                events = await take_until(sub, "1004")
        finally:
            await client.aclose()
    gap = parse_event(events[0].data)
    assert isinstance(gap, StreamGap), [e.type for e in events[:3]]
    assert gap.after == position == events[0].id
    assert gap.first_available is not None
    texts = [int(text_of(event)) for event in events[1:]]
    assert texts == list(range(texts[0], 1005))
    assert 5 < texts[0] <= 1005 - 100


async def test_a_paused_redis_is_noticed_and_the_listener_gets_every_event_once(
    own_redis: servers.RedisServer, direct: aioredis.Redis
) -> None:
    key = new_session()
    bus = EventBus(direct)
    async with (
        Fanout(direct, bus, health_check_s=HEALTH_CHECK_S, reconnect_backoff_s=(0.05, 0.2)) as fan,
        fan.listen(key) as sub,
    ):
        reader = asyncio.create_task(take(sub, 20, within=60))
        for n in range(10):
            last = await publish(bus, key, str(n))

        async def delivered() -> bool:
            return sub.last_id == last

        assert await apoll(delivered, 10)
        own_redis.process.signal(signal.SIGSTOP)
        try:
            # Noticed within a few seconds, and a reconnect to the paused Redis gives up in
            # time too (a second drop) instead of hanging.
            async def reconnected_twice() -> bool:
                return fan.reconnects >= 2

            assert await apoll(reconnected_twice, 3 * HEALTH_CHECK_S + 5)
        finally:
            own_redis.process.signal(signal.SIGCONT)
        for n in range(10, 20):
            await publish(bus, key, str(n))
        events = await reader
    assert [text_of(event) for event in events] == [str(n) for n in range(20)]


async def test_a_silently_dropped_path_is_noticed_and_the_listener_misses_nothing(
    own_redis: servers.RedisServer, direct: aioredis.Redis
) -> None:
    key = new_session()
    publisher = EventBus(direct)
    async with TcpPath(own_redis.port) as path:
        client = aioredis.from_url(path.url)
        try:
            async with (
                Fanout(
                    client,
                    EventBus(client),
                    health_check_s=HEALTH_CHECK_S,
                    reconnect_backoff_s=(0.05, 0.2),
                ) as fan,
                fan.listen(key) as sub,
            ):
                reader = asyncio.create_task(take(sub, 30, within=60))
                for n in range(10):
                    await publish(publisher, key, str(n))
                path.blackhole()
                # Published while the fan-out's path is dead: only the log has them.
                for n in range(10, 20):
                    await publish(publisher, key, str(n))

                async def reconnected_twice() -> bool:
                    return fan.reconnects >= 2

                assert await apoll(reconnected_twice, 3 * HEALTH_CHECK_S + 5)
                path.restore()
                for n in range(20, 30):
                    await publish(publisher, key, str(n))
                events = await reader
        finally:
            await client.aclose()
    assert [text_of(event) for event in events] == [str(n) for n in range(30)]
