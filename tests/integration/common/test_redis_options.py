"""A client built with connection_options() survives a Redis restart on its pooled connections."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from scripts.stack import servers
from services.common.bus import EventBus
from services.common.events import TurnStarted
from services.common.redis_options import connection_options
from services.common.sessions import BusKey


async def test_the_first_publish_after_a_redis_restart_goes_through(tmp_path: Path) -> None:
    server = servers.start_redis(tmp_path, persist=True, appendfsync="always")
    client = aioredis.from_url(server.url, **connection_options())
    try:
        bus = EventBus(client)
        event = TurnStarted(session_id="s", turn_id="t")
        first = await bus.publish(BusKey("t1", "s"), event)
        servers.restart_redis(server)  # the pooled connection is now dead on the server side
        second = await bus.publish(BusKey("t1", "s"), event)
        assert [e.id async for e in bus.read_after(BusKey("t1", "s"), None)] == [first, second]
    finally:
        await client.aclose()
        server.process.stop()
