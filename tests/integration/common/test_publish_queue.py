"""The process's shared publish pipeline on a real Redis: sessions' publishes share round trips,
each caller gets its own ids or error, a session's events keep their order."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from scripts.stack.processes import free_port
from services.common.bus import EventBus, RawPublish
from services.common.events import MessageDelta
from services.common.sessions import BusKey


class CountingRedis(aioredis.Redis):
    """A client that counts the pipelines and single commands it sends."""

    pipelines = 0
    commands = 0

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        type(self).pipelines += 1
        return super().pipeline(transaction, shard_hint)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        type(self).commands += 1
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


def new_key() -> BusKey:
    return BusKey("acme", f"s-{uuid.uuid4().hex[:12]}")


def deltas(key: BusKey, first: int, count: int) -> list[RawPublish]:
    return [
        RawPublish.of(MessageDelta(session_id=key.session_id, turn_id="t1", text=str(n)))
        for n in range(first, first + count)
    ]


async def logged_texts(bus: EventBus, key: BusKey) -> list[str]:
    return [json.loads(event.data)["text"] async for event in bus.read_after(key, None)]


@pytest.fixture
async def counting(redis_url: str) -> Any:
    client = CountingRedis.from_url(redis_url)
    CountingRedis.pipelines = CountingRedis.commands = 0
    yield client
    await client.aclose()


async def test_many_sessions_share_round_trips_and_keep_their_order(counting: Any) -> None:
    bus = EventBus(counting, maxlen=10_000, ttl_s=600)
    keys = [new_key() for _ in range(20)]

    async def session(key: BusKey) -> list[str]:
        ids = []
        for batch in range(5):  # a step's publisher: one batch after the other
            ids += await bus.publish_batch(key, deltas(key, batch * 3, 3))
        return ids

    results = await asyncio.gather(*(session(key) for key in keys))
    sent = (CountingRedis.pipelines, CountingRedis.commands)
    for key, ids in zip(keys, results, strict=True):
        logged = [event async for event in bus.read_after(key, None)]
        assert [event.id for event in logged] == ids
        assert [json.loads(e.data)["text"] for e in logged] == [str(n) for n in range(15)]
    # 100 calls of 20 sessions went out in far fewer round trips than one each.
    assert sum(sent) <= 10, sent


async def test_a_lone_publish_goes_out_at_once_as_one_command(counting: Any) -> None:
    bus = EventBus(counting, maxlen=10_000, ttl_s=600)
    key = new_key()
    event = MessageDelta(session_id=key.session_id, turn_id="t", text="x")
    event_id = await bus.publish(key, event)
    assert (CountingRedis.pipelines, CountingRedis.commands) == (0, 1)
    assert [e.id for e in await _all(bus, key)] == [event_id]


async def test_scripts_flushed_by_redis_are_loaded_again_and_nothing_runs_twice(
    bus: EventBus, redis: aioredis.Redis
) -> None:
    keys = [new_key() for _ in range(5)]
    await asyncio.gather(*(bus.publish_batch(key, deltas(key, 0, 2)) for key in keys))
    await redis.script_flush()  # as after a Redis restart without its scripts
    await asyncio.gather(*(bus.publish_batch(key, deltas(key, 2, 2)) for key in keys))
    for key in keys:
        assert await logged_texts(bus, key) == ["0", "1", "2", "3"]


async def test_a_caller_whose_command_fails_gets_its_error_and_the_others_their_ids(
    bus: EventBus, redis: aioredis.Redis
) -> None:
    good, bad = new_key(), new_key()
    await redis.set(bus.stream_key(bad), "not a stream")  # XADD on it fails: WRONGTYPE
    ok, failed = await asyncio.gather(
        bus.publish_batch(good, deltas(good, 0, 3)),
        bus.publish_batch(bad, deltas(bad, 0, 3)),
        return_exceptions=True,
    )
    assert isinstance(failed, ResponseError)
    assert "WRONGTYPE" in str(failed)
    assert isinstance(ok, list)
    assert [e.id for e in await _all(bus, good)] == ok


async def test_every_waiting_caller_gets_the_error_when_redis_is_unreachable() -> None:
    client = aioredis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1, socket_timeout=1
    )
    bus = EventBus(client)
    keys = [new_key() for _ in range(5)]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                *(bus.publish_batch(key, deltas(key, 0, 2)) for key in keys),
                return_exceptions=True,
            ),
            10,
        )
    finally:
        await client.aclose()
    assert all(isinstance(result, RedisConnectionError) for result in results), results


async def test_a_caller_cancelled_before_its_batch_left_publishes_nothing(
    bus: EventBus,
) -> None:
    key = new_key()
    publish = asyncio.create_task(bus.publish_batch(key, deltas(key, 0, 2)))
    await asyncio.sleep(0)  # it queued its batch and waits; the queue's sender has not run
    publish.cancel()
    with pytest.raises(asyncio.CancelledError):
        await publish
    after = await bus.publish_batch(key, deltas(key, 2, 1))  # the queue goes on serving
    assert [e.id for e in await _all(bus, key)] == after


async def _all(bus: EventBus, key: BusKey) -> list[Any]:
    return [event async for event in bus.read_after(key, None)]
