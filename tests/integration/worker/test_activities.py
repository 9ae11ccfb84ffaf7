"""Activities run on their own (Temporal's ActivityEnvironment), against the real MCP server
and Redis: what a retried attempt does to the session's event log."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import redis.asyncio as aioredis
from temporalio.testing import ActivityEnvironment

from services.common.bus import EventBus
from services.common.events import TurnCompleted
from services.common.sessions import BusKey
from services.worker.activities import SessionActivities
from services.worker.activity_types import FunctionCall, PublishInput, StepContext, ToolInput
from services.worker.mcp_servers import McpServers
from services.worker.mistral_client import make_client
from services.worker.settings import WorkerSettings


async def test_a_retried_attempt_does_not_publish_its_event_twice(
    make_settings: Callable[..., WorkerSettings], redis_url: str
) -> None:
    settings = make_settings()
    redis = aioredis.from_url(redis_url)
    bus = EventBus(redis)
    mcp = McpServers.from_settings(settings)
    activities = SessionActivities(settings, bus, make_client(settings), mcp)
    sid = f"s-{uuid.uuid4().hex[:12]}"
    key = BusKey("t1", sid)
    context = StepContext.of(key, "turn_1", 1)
    call = FunctionCall("call_1", "daily_progress", '{"user_query": "how am I doing?"}')
    tool = ToolInput(context=context, call=call, tenant_id="t1", user_id=f"u-{sid}")
    done = TurnCompleted(session_id=sid, turn_id="turn_1", output="ok")
    try:
        env = ActivityEnvironment()
        outputs = [await env.run(activities.call_tool, tool) for _ in range(2)]
        for _ in range(2):  # the workflow's replay of a publish it had not recorded
            await env.run(activities.publish_event, PublishInput(str(key), done, "run-1:1"))
        await env.run(activities.publish_event, PublishInput(str(key), done))  # no key: published
        logged = [event.type async for event in bus.read_after(key, None)]
    finally:
        await mcp.aclose()
        await redis.aclose()
    assert outputs[0] == outputs[1]
    assert logged == ["tool.result", "turn.completed", "turn.completed"]
