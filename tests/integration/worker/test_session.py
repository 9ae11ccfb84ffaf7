"""The session workflow on real servers: a NutriSense conversation, faults, busy sessions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from scripts.stack.processes import apoll
from services.common.bus import BusEvent
from services.common.events import MessageDelta, TurnCompleted, parse_event
from services.common.sessions import (
    CANCEL_TURN,
    END_SESSION,
    CancelReceipt,
    CancelRequest,
    EndRequest,
    SessionErrors,
)
from services.worker.mcp_tools import McpTools
from tests.fixtures.worker import SessionDriver

COOKBOOK_QUERIES = [
    ("Set my calorie goal to 2000 calories, 100g protein, 100g carbs, 100g fibre.",
     "goal-setting-agent", "goal_setting"),
    ("Log the food for breakfast - I had 2 eggs, 1 slice of bread and 1 cup of coffee.",
     "food-logging-agent", "food_log"),
    ("Provide recommendations for dinner based on the goals.",
     "food-recommendations-agent", "food_recommendations"),
    ("What is the progress so far for the day?. Provide Nutrition analysis.",
     "daily-progress-agent", "daily_progress"),
    ("Search the web for restaurants in paris that serve good grilled chicken.",
     "web-search-agent", "web_search"),
]  # fmt: skip


def turn_events(events: list[BusEvent], turn_id: str) -> list[Any]:
    parsed = [parse_event(e.data) for e in events]
    return [e for e in parsed if e.turn_id == turn_id]


async def test_nutrisense_five_turns_in_one_conversation(
    driver: SessionDriver, mcp_server: Any, mistral_sim: Any
) -> None:
    handle = await driver.start(user_id="alice")
    conversations = set()
    for query, agent, tool in COOKBOOK_QUERIES:
        receipt = await driver.submit(handle, query)
        events = turn_events(
            await driver.events_until_done(handle, receipt.turn_id), receipt.turn_id
        )
        types = [e.type for e in events]
        assert types[0] == "turn.started", types
        assert types[-1] == "turn.completed", (query, events[-1])
        assert types.count("turn.completed") == 1
        handoffs = [e.to_agent for e in events if e.type == "agent.handoff"]
        # The conversation stays with the last agent, who hands on through its own handoffs.
        assert handoffs, query
        assert handoffs[-1] == agent, (query, handoffs)
        assert [e.name for e in events if e.type == "tool.call"] == [tool], query
        assert [e.name for e in events if e.type == "tool.result"] == [tool]
        completed = events[-1]
        assert isinstance(completed, TurnCompleted)
        streamed = "".join(e.text for e in events if isinstance(e, MessageDelta))
        assert streamed == completed.output
        assert completed.usage.total_tokens > 0
        conversations.add((await driver.status(handle)).conversation_id)
    assert len(conversations) == 1
    status = await driver.status(handle)
    assert [t.status for t in status.turns] == ["completed"] * 5
    assert mistral_sim.user_inputs(status.conversation_id or "") == [
        q for q, _, _ in COOKBOOK_QUERIES
    ]

    # What the tools stored: 2 eggs, a slice of bread and a cup of coffee for breakfast.
    mcp = McpTools(mcp_server.url, auth_token=SecretStr(mcp_server.token))
    try:
        result = await mcp.call_tool(
            "daily_progress",
            {"user_query": "progress"},
            {"user_id": "alice", "tenant_id": "t1"},
            10,
        )
    finally:
        await mcp.aclose()
    progress = result.structured_content or {}
    foods = sorted(entry["food"] for entry in progress["entries"])
    assert len(foods) == 3, foods
    assert any("egg" in food for food in foods)
    assert all(entry["meal"] == "breakfast" for entry in progress["entries"])
    assert progress["goals"]["calories_kcal"] == 2000
    assert progress["goals"]["protein_g"] == 100


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "disconnect", "after_events": 3},
        {"kind": "status", "status": 503},
        {"kind": "status", "status": 429, "retry_after_s": 1},
    ],
    ids=["dropped-stream", "503", "429"],
)
async def test_faults_retry_with_restart_and_never_append_twice(
    driver: SessionDriver, sim_faults_cleared: Any, fault: dict[str, Any]
) -> None:
    sim = sim_faults_cleared
    handle = await driver.start()
    first = await driver.submit(handle, "Set my calorie goal to 1800 calories.")
    await driver.events_until_done(handle, first.turn_id)
    sim.add_fault(path="/v1/conversations", times=1, **fault)
    second = await driver.submit(handle, "I had 2 eggs for breakfast.")
    events = turn_events(await driver.events_until_done(handle, second.turn_id), second.turn_id)
    types = [e.type for e in events]
    assert "turn.retry" in types
    assert types[-1] == "turn.completed"
    after_retry = events[types.index("turn.retry") + 1 :]
    output = "".join(e.text for e in after_retry if isinstance(e, MessageDelta))
    assert output == events[-1].output
    status = await driver.status(handle)
    assert sim.user_inputs(status.conversation_id or "") == [
        "Set my calorie goal to 1800 calories.",
        "I had 2 eggs for breakfast.",
    ]
    assert sim.faults() == []


async def slow_next_request(sim: Any, delay_ms: int = 2000) -> None:
    sim.add_fault(kind="delay", delay_ms=delay_ms, path="/v1/conversations", times=1)


async def wait_running(
    driver: SessionDriver, handle: WorkflowHandle[Any, Any], turn_id: str
) -> None:
    async def running() -> bool:
        return (await driver.status(handle)).running_turn == turn_id

    assert await apoll(running, 10), f"{turn_id} never ran"


async def test_reject_when_busy(driver: SessionDriver, sim_faults_cleared: Any) -> None:
    handle = await driver.start()
    await slow_next_request(sim_faults_cleared)
    first = await driver.submit(handle, "Set my calorie goal to 2100 calories.")
    await wait_running(driver, handle, first.turn_id)
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await driver.submit(handle, "What is my progress so far?", on_busy="reject")
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == SessionErrors.BUSY
    events = turn_events(await driver.events_until_done(handle, first.turn_id), first.turn_id)
    assert events[-1].type == "turn.completed"


async def test_enqueue_runs_turns_in_order(driver: SessionDriver, sim_faults_cleared: Any) -> None:
    handle = await driver.start()
    await slow_next_request(sim_faults_cleared, 1000)
    first = await driver.submit(handle, "Set my calorie goal to 2200 calories.")
    second = await driver.submit(handle, "What is my progress so far today?")
    assert second.position == 1
    all_events = await driver.events_until_done(handle, second.turn_id)
    parsed = [parse_event(e.data) for e in all_events]
    terminal = [
        (e.turn_id, e.type)
        for e in parsed
        if e.type.startswith("turn.") and e.type != "turn.started"
    ]
    assert terminal == [
        (second.turn_id, "turn.queued"),
        (first.turn_id, "turn.completed"),
        (second.turn_id, "turn.completed"),
    ]


async def test_interrupt_cancels_the_running_turn_and_runs_the_new_one(
    driver: SessionDriver, sim_faults_cleared: Any
) -> None:
    handle = await driver.start()
    done = await driver.submit(handle, "Set my calorie goal to 2000 calories.")
    await driver.events_until_done(handle, done.turn_id)
    await slow_next_request(sim_faults_cleared, 5000)
    slow = await driver.submit(handle, "I had 2 eggs for breakfast.")
    await wait_running(driver, handle, slow.turn_id)
    fast = await driver.submit(handle, "What is my progress so far?", on_busy="interrupt")
    assert fast.interrupted == [slow.turn_id]
    events = await driver.events_until_done(handle, fast.turn_id)
    assert turn_events(events, slow.turn_id)[-1].type == "turn.cancelled"
    fast_events = turn_events(events, fast.turn_id)
    assert fast_events[-1].type == "turn.completed", fast_events[-1]
    status = await driver.status(handle)
    assert {t.turn_id: t.status for t in status.turns}[slow.turn_id] == "cancelled"
    # The next turn continues normally: no 409 from the interrupted request's conversation.
    after = await driver.submit(handle, "Recommend a dinner for me.")
    final = turn_events(await driver.events_until_done(handle, after.turn_id), after.turn_id)
    assert final[-1].type == "turn.completed"


async def test_cancel_running_and_queued_turns(
    driver: SessionDriver, sim_faults_cleared: Any
) -> None:
    handle = await driver.start()
    await slow_next_request(sim_faults_cleared, 5000)
    running = await driver.submit(handle, "Set my calorie goal to 2000 calories.")
    queued = await driver.submit(handle, "What is my progress so far?")
    await wait_running(driver, handle, running.turn_id)
    receipt = await handle.execute_update(
        CANCEL_TURN, CancelRequest(turn_id=queued.turn_id), result_type=CancelReceipt
    )
    assert receipt.status == "cancelled"
    receipt = await handle.execute_update(
        CANCEL_TURN, CancelRequest(turn_id=running.turn_id), result_type=CancelReceipt
    )
    assert receipt.status == "cancelled"
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(CANCEL_TURN, CancelRequest(turn_id=running.turn_id))
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == SessionErrors.TURN_FINISHED
    nxt = await driver.submit(handle, "Set my calorie goal to 1900 calories.")
    events = turn_events(await driver.events_until_done(handle, nxt.turn_id), nxt.turn_id)
    assert events[-1].type == "turn.completed"


async def test_duplicate_turn_id_returns_the_original(driver: SessionDriver) -> None:
    handle = await driver.start()
    text = "Set my calorie goal to 2000 calories."
    first = await driver.submit(handle, text, turn_id="turn_same")
    # The same update id is deduplicated by Temporal itself ...
    assert await driver.submit(handle, text, turn_id="turn_same") == first
    # ... and a new update for a known turn id by the workflow.
    again = await driver.submit(handle, text, turn_id="turn_same", update_id="retry-1")
    assert again.duplicate
    assert again.turn_id == first.turn_id
    await driver.events_until_done(handle, first.turn_id)
    late = await driver.submit(handle, text, turn_id="turn_same", update_id="retry-2")
    assert (late.duplicate, late.status) == (True, "completed")
    status = await driver.status(handle)
    assert [t.turn_id for t in status.turns] == ["turn_same"]


async def test_end_session_then_turns_are_refused(driver: SessionDriver) -> None:
    handle = await driver.start()
    await handle.execute_update(END_SESSION, EndRequest(reason="done"))
    # The workflow has completed: Temporal itself refuses further updates.
    with pytest.raises(RPCError, match="already completed"):
        await driver.submit(handle, "hello")
    events = [e async for e in driver.bus.read_after(driver.key(handle), None)]
    assert [e.type for e in events] == ["session.ended"]


async def test_tool_error_goes_back_to_the_model_and_the_turn_completes(
    driver: SessionDriver,
) -> None:
    handle = await driver.start()
    turn = await driver.submit(handle, "Log my lunch: I ate 3 florps.")
    events = turn_events(await driver.events_until_done(handle, turn.turn_id), turn.turn_id)
    results = [e for e in events if e.type == "tool.result"]
    assert len(results) == 1
    assert results[0].is_error, results[0]
    assert events[-1].type == "turn.completed"
