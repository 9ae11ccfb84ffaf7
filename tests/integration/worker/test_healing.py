"""Faults a session heals from by itself (issue 12): what Mistral lost is replaced, a cancelled
turn keeps its tool results, the bus going away costs no turn, the queue and the roster hold."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from scripts.stack import servers
from scripts.stack.processes import apoll, http_ok
from services.common.bus import EventBus
from services.common.events import parse_event
from services.common.sessions import (
    CANCEL_TURN,
    END_SESSION,
    MAX_QUEUED_TURNS,
    CancelReceipt,
    CancelRequest,
    EndRequest,
    SessionErrors,
)
from tests.fixtures.mistral_sim import MistralSim, start_mistral_sim
from tests.fixtures.worker import SessionDriver, running_worker


def history(sim: MistralSim, conversation_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = sim.admin(
        "GET", f"/v1/conversations/{conversation_id}/history"
    )["entries"]
    return entries


def said(entries: list[dict[str, Any]], role: str) -> list[str]:
    return [
        str(e["content"])
        for e in entries
        if e["type"] in ("message.input", "message.output") and e.get("role") == role
    ]


async def types_of(
    driver: SessionDriver, handle: WorkflowHandle[Any, Any], turn_id: str
) -> list[str]:
    events = await driver.events_until_done(handle, turn_id)
    return [e.type for e in events if e.turn_id == turn_id]


async def run_turn(driver: SessionDriver, handle: WorkflowHandle[Any, Any], text: str) -> list[str]:
    receipt = await driver.submit(handle, text)
    return await types_of(driver, handle, receipt.turn_id)


async def test_a_lost_conversation_is_replaced_and_seeded_with_the_turns(
    driver: SessionDriver, mistral_sim: MistralSim
) -> None:
    handle = await driver.start()
    first, second = "Set my calorie goal to 2000 calories.", "I had 2 eggs for breakfast."
    assert (await run_turn(driver, handle, first))[-1] == "turn.completed"
    assert (await run_turn(driver, handle, second))[-1] == "turn.completed"
    before = await driver.status(handle)
    mistral_sim.admin("DELETE", f"/v1/conversations/{before.conversation_id}")

    third = "What is the progress so far for the day?"
    types = await run_turn(driver, handle, third)
    assert "conversation.reset" in types
    assert types.count("turn.started") == 1
    assert types[-1] == "turn.completed"
    after = await driver.status(handle)
    assert after.conversation_id != before.conversation_id
    entries = history(mistral_sim, after.conversation_id or "")
    # The new conversation holds each turn once: the two seeded with their answers, then the third.
    assert said(entries, "user") == [first, second, third]
    outputs = [t.output for t in before.turns]
    assert said(entries, "assistant")[:2] == outputs


async def test_a_restarted_simulator_loses_agents_and_conversations_and_the_session_goes_on(
    temporal_client: Client,
    bus_redis: aioredis.Redis,
    make_settings: Callable[..., Any],
    tmp_path: Path,
) -> None:
    sim = start_mistral_sim(tmp_path)
    try:
        async with running_worker(
            temporal_client, bus_redis, make_settings(sim_url=sim.url)
        ) as driver:
            handle = await driver.start()
            assert (await run_turn(driver, handle, "Set my calorie goal to 1900 calories."))[
                -1
            ] == "turn.completed"
            sim.process.restart()  # its agents and conversations are gone
            sim.process.wait_ready(lambda: http_ok(f"{sim.url}/healthz"))
            types = await run_turn(driver, handle, "I had 1 banana for breakfast.")
            assert "conversation.reset" in types
            assert types[-1] == "turn.completed", types
            status = await driver.status(handle)
            entries = history(sim, status.conversation_id or "")
            assert said(entries, "user") == [
                "Set my calorie goal to 1900 calories.",
                "I had 1 banana for breakfast.",
            ]
    finally:
        sim.process.stop()


async def test_a_turn_cancelled_after_its_tool_ran_keeps_the_result(
    driver: SessionDriver, sim_faults_cleared: MistralSim
) -> None:
    sim = sim_faults_cleared
    handle = await driver.start()
    # Both steps of the turn are slow: the cancel lands after the tool, before the answer.
    sim.add_fault(kind="delay", delay_ms=1500, times=2)
    receipt = await driver.submit(handle, "I had 2 eggs for breakfast.")
    key = driver.key(handle)
    results: list[Any] = []

    async def tool_ran() -> bool:
        events = [parse_event(e.data) async for e in driver.bus.read_after(key, None)]
        results[:] = [e for e in events if e.type == "tool.result"]
        return bool(results)

    assert await apoll(tool_ran, 20)
    cancelled = await handle.execute_update(
        CANCEL_TURN, CancelRequest(turn_id=receipt.turn_id), result_type=CancelReceipt
    )
    assert cancelled.status == "cancelled"
    sim.clear_faults()

    types = await run_turn(driver, handle, "What is the progress so far for the day?")
    assert types[-1] == "turn.completed"
    status = await driver.status(handle)
    entries = history(sim, status.conversation_id or "")
    # The model's conversation holds the logged meal: the call, and its result, once.
    call_id = results[0].call_id
    kept = [e for e in entries if e["type"] == "function.result" and e["tool_call_id"] == call_id]
    assert len(kept) == 1, entries
    assert said(entries, "user").count("I had 2 eggs for breakfast.") == 1


async def test_the_turn_queue_is_bounded(
    driver: SessionDriver, sim_faults_cleared: MistralSim
) -> None:
    handle = await driver.start()
    sim_faults_cleared.add_fault(kind="delay", delay_ms=3000, times=1)
    for n in range(MAX_QUEUED_TURNS + 1):  # one runs, the rest wait
        await driver.submit(handle, f"Set my calorie goal to {1500 + n} calories.")
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await driver.submit(handle, "One too many.")
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == SessionErrors.QUEUE_FULL
    await handle.execute_update(END_SESSION, EndRequest(reason="done"))


async def test_registering_the_team_never_waits_for_a_session_slot(
    temporal_client: Client, bus_redis: aioredis.Redis, make_settings: Callable[..., Any]
) -> None:
    # One activity slot: resolve_roster holds it while the registration runs elsewhere.
    settings = make_settings(max_concurrent_activities=1)
    async with running_worker(temporal_client, bus_redis, settings) as driver:
        handle = await driver.start()
        receipt = await driver.submit(handle, "Set my calorie goal to 2000 calories.")
        types = await types_of(driver, handle, receipt.turn_id)
        assert types[-1] == "turn.completed"


async def test_redis_down_mid_turn_costs_no_turn_and_the_end_arrives_once_it_is_back(
    temporal_client: Client,
    make_settings: Callable[..., Any],
    sim_faults_cleared: MistralSim,
    tmp_path: Path,
) -> None:
    redis_server = servers.start_redis(tmp_path / "redis", persist=True, appendfsync="always")
    client = aioredis.from_url(redis_server.url)
    try:
        settings = make_settings(redis_url=redis_server.url)
        async with running_worker(temporal_client, client, settings) as driver:
            handle = await driver.start(user_id=f"u-{uuid.uuid4().hex[:6]}")
            sim_faults_cleared.add_fault(kind="delay", delay_ms=1500, times=1)
            receipt = await driver.submit(handle, "Set my calorie goal to 2000 calories.")
            key = driver.key(handle)
            bus = EventBus(client)

            async def started() -> bool:
                return any([e.type == "turn.started" async for e in bus.read_after(key, None)])

            assert await apoll(started, 10)
            redis_server.process.stop()  # down before the first token

            async def finished() -> bool:
                turns = (await driver.status(handle)).turns
                return any(t.turn_id == receipt.turn_id and t.status != "running" for t in turns)

            assert await apoll(finished, 30)
            turns = {t.turn_id: t for t in (await driver.status(handle)).turns}
            assert turns[receipt.turn_id].status == "completed", turns[receipt.turn_id]

            servers.restart_redis(redis_server)
            await client.connection_pool.disconnect()  # the test's own connections died with it
            events = await driver.events_until_done(handle, receipt.turn_id)
            types = [e.type for e in events]
            assert types.count("turn.completed") == 1
            # What the outage swallowed is said, before the end.
            assert "stream.gap" in types
            assert types.index("stream.gap") < types.index("turn.completed")
    finally:
        await client.aclose()
        redis_server.process.stop()
