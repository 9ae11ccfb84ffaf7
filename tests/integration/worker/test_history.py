"""What a session keeps in Temporal: ids and small records, not the conversation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import Client

from tests.fixtures.worker import running_worker

TURNS = [
    "Set my calorie goal to 2000 calories.",
    "I had 2 eggs for breakfast.",
    "What is my progress so far?",
    "Recommend a dinner for me.",
]


async def test_twenty_turns_keep_history_small(
    temporal_client: Client, bus_redis: Any, make_settings: Callable[..., Any], mistral_sim: Any
) -> None:
    settings = make_settings(session_turns_per_run=1000)
    async with running_worker(temporal_client, bus_redis, settings) as driver:
        handle = await driver.start()
        outputs = []
        for n in range(20):
            turn = await driver.submit(handle, TURNS[n % len(TURNS)])
            await driver.events_until_done(handle, turn.turn_id)
        status = await driver.status(handle)
        outputs = [t.output or "" for t in status.turns]
        history = await handle.fetch_history()
        size = sum(event.ByteSize() for event in history.events)  # what Temporal stores
        events = len(history.events)
    assert len(outputs) == 20
    # Per turn: the update, a workflow task or two, two or three activities, a few local
    # activities (markers). Streamed deltas never enter history: only the final text does.
    per_turn = size / 20
    assert per_turn < 10_000, f"{per_turn:.0f} bytes of history per turn"
    assert events / 20 < 40, f"{events / 20:.1f} history events per turn"
    blob = history.to_json()
    assert "message.delta" not in blob


async def test_session_continues_as_new_and_keeps_its_conversation(
    temporal_client: Client, bus_redis: Any, make_settings: Callable[..., Any], mistral_sim: Any
) -> None:
    settings = make_settings(session_turns_per_run=2)
    async with running_worker(temporal_client, bus_redis, settings) as driver:
        handle = await driver.start()
        first_run = (await handle.describe()).run_id
        turn_ids = []
        for text in TURNS + TURNS[:1]:
            turn = await driver.submit(handle, text)
            turn_ids.append(turn.turn_id)
            await driver.events_until_done(handle, turn.turn_id)
        latest = temporal_client.get_workflow_handle(handle.id)
        description = await latest.describe()
        assert description.run_id != first_run
        status = await driver.status(latest)
        assert [t.turn_id for t in status.turns] == turn_ids
        assert all(t.status == "completed" for t in status.turns)
    assert mistral_sim.user_inputs(status.conversation_id or "") == [
        *TURNS,
        TURNS[0],
    ]
