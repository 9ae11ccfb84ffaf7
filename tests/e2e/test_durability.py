"""Processes die and restart under a running conversation; the user loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid

import httpx2
import pytest

from scripts.sse import TERMINAL_TURN_EVENTS as TERMINAL
from scripts.stack.processes import poll
from tests.e2e.client import Api, SseEvent, sse_events
from tests.e2e.conftest import E2EStack

pytestmark = pytest.mark.e2e


def pid_of(stack: E2EStack, name: str) -> int:
    local = stack.require_local()
    return int((local.run_dir / f"{name}.pid").read_text())


async def test_all_workers_killed_mid_turn_and_the_turn_still_completes(
    stack: E2EStack, api: Api
) -> None:
    local = stack.require_local()
    sid = await api.create_session(user_id=f"e2e-{uuid.uuid4().hex[:8]}")
    await api.stream_turn(sid, "Set my calorie goal to 2000 calories.")
    events: list[SseEvent] = []
    async with api.http.stream(
        "POST",
        f"/v1/sessions/{sid}/messages",
        json={"input": "Log my lunch: half a cup of rice and 150g grilled chicken."},
        headers={"Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        killed = False
        async for event in sse_events(response):
            events.append(event)
            if event.event == "message.delta" and not killed:
                # Every worker dies mid-reply (SIGKILL, no goodbye); one comes back.
                for name in ("worker-1", "worker-2"):
                    os.kill(pid_of(stack, name), signal.SIGKILL)
                killed = True
                local.restart_service("worker-1")
            if event.event in TERMINAL:
                break
    local.restart_service("worker-2")
    types = [e.event for e in events]
    assert killed
    assert "turn.retry" in types
    assert types[-1] == "turn.completed", events[-1]
    retry_at = len(types) - 1 - types[::-1].index("turn.retry")
    after = "".join(e.data["text"] for e in events[retry_at:] if e.event == "message.delta")
    assert after == events[-1].data["output"]


async def test_gateway_restarted_mid_stream_and_the_client_resumes(
    stack: E2EStack, api: Api
) -> None:
    local = stack.require_local()
    sid = await api.create_session(user_id=f"e2e-{uuid.uuid4().hex[:8]}")
    await api.stream_turn(sid, "Set my calorie goal to 2000 calories.")
    response = await api.http.post(
        f"/v1/sessions/{sid}/messages",
        json={"input": "Provide recommendations for dinner based on the goals."},
    )
    assert response.status_code == 202, response.text
    turn_id = response.json()["turn_id"]
    before: list[SseEvent] = []
    restart: asyncio.Task[object] | None = None
    try:
        async with api.http.stream(
            "GET", f"/v1/sessions/{sid}/events", params={"turn_id": turn_id, "after": "0"}
        ) as stream:
            async for event in sse_events(stream):
                before.append(event)
                if event.event == "message.delta" and restart is None:
                    # Restarted while this client is connected: its stream is cut.
                    restart = asyncio.create_task(
                        asyncio.to_thread(local.restart_service, "gateway")
                    )
                if event.event in TERMINAL:
                    break
    except httpx2.HTTPError:  # the connection dies with the gateway: that is the point
        pass
    assert restart is not None
    await restart
    assert before, "nothing arrived before the restart"
    last_id = before[-1].id
    assert last_id
    after: list[SseEvent] = []
    async with api.http.stream(
        "GET",
        f"/v1/sessions/{sid}/events",
        params={"turn_id": turn_id},
        headers={"Last-Event-ID": last_id},
    ) as stream:
        assert stream.status_code == 200
        async for event in sse_events(stream):
            after.append(event)
            if event.event in TERMINAL:
                break
    seen = before + after
    ids = [e.id for e in seen]
    assert len(ids) == len(set(ids)), "an event came twice"
    assert after[-1].event == "turn.completed"
    streamed = "".join(e.data["text"] for e in seen if e.event == "message.delta")
    assert streamed == after[-1].data["output"]
    # Nothing missing: the resumed view equals a full replay of the turn.
    full: list[SseEvent] = []
    async with api.http.stream(
        "GET", f"/v1/sessions/{sid}/events", params={"turn_id": turn_id, "after": "0"}
    ) as stream:
        async for event in sse_events(stream):
            full.append(event)
            if event.event in TERMINAL:
                break
    assert [e.id for e in full] == ids


async def test_mcp_server_restarted_between_turns(stack: E2EStack, api: Api) -> None:
    local = stack.require_local()
    sid = await api.create_session(user_id=f"e2e-{uuid.uuid4().hex[:8]}")
    first = await api.stream_turn(sid, "I had 2 eggs for breakfast.")
    assert first.types[-1] == "turn.completed"
    old_pid = pid_of(stack, "mcp")
    local.restart_service("mcp")
    assert poll(lambda: pid_of(stack, "mcp") != old_pid, 10)
    second = await api.stream_turn(sid, "I had 1 cup of coffee for breakfast.")
    assert second.types[-1] == "turn.completed", second.events[-1]
    (result,) = second.tool_results()
    assert not result["is_error"], result
    progress = await api.stream_turn(sid, "What is the progress so far for the day?")
    (summary,) = progress.tool_results()
    assert "(2 item(s) logged)" in summary["output"]  # the eggs survived the restart
