"""The session's transcript (its turns with their tool calls) and title, across continue-as-new."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from temporalio.client import Client, WorkflowHandle

from services.common.sessions import (
    TITLE_MEMO,
    TRANSCRIPT_QUERY,
    TranscriptPage,
    TranscriptRequest,
    session_title,
)
from services.worker.session_state import KEEP_RESULT_CHARS
from tests.fixtures.worker import SessionDriver, running_worker

TURNS = [
    ("Set my calorie goal to 2000 calories, 100g protein.", "goal_setting"),
    ("Log the food for breakfast - I had 2 eggs and 1 cup of coffee.", "food_log"),
    ("What is the progress so far for the day?", "daily_progress"),
]


async def transcript(
    handle: WorkflowHandle[Any, Any], limit: int = 50, before: str | None = None
) -> TranscriptPage:
    page: TranscriptPage = await handle.query(
        TRANSCRIPT_QUERY, TranscriptRequest(limit=limit, before=before), result_type=TranscriptPage
    )
    return page


async def run_turns(driver: SessionDriver, handle: WorkflowHandle[Any, Any]) -> list[str]:
    turn_ids = []
    for text, _ in TURNS:
        receipt = await driver.submit(handle, text)
        await driver.events_until_done(handle, receipt.turn_id)
        turn_ids.append(receipt.turn_id)
    return turn_ids


async def check_transcript(handle: WorkflowHandle[Any, Any], turn_ids: list[str]) -> None:
    whole = await transcript(handle)
    assert [t.turn_id for t in whole.turns] == turn_ids
    assert whole.next_before is None
    for record, (text, tool) in zip(whole.turns, TURNS, strict=True):
        assert record.status == "completed"
        assert record.input == text
        assert record.output
        assert [c.name for c in record.tool_calls] == [tool]
        call = record.tool_calls[0]
        assert isinstance(json.loads(call.arguments), dict)
        assert call.error is None
        assert call.result
        assert len(call.result) <= KEEP_RESULT_CHARS
    # Newest page first; inside a page, oldest first.
    newest = await transcript(handle, limit=2)
    assert [t.turn_id for t in newest.turns] == turn_ids[1:]
    assert newest.next_before == turn_ids[1]
    older = await transcript(handle, limit=2, before=newest.next_before)
    assert [t.turn_id for t in older.turns] == turn_ids[:1]
    assert older.next_before is None
    assert (await transcript(handle, before="turn_unknown")).turns == []


async def test_turns_keep_their_tool_calls_and_the_first_message_titles_the_session(
    driver: SessionDriver, temporal_client: Client
) -> None:
    handle = await driver.start()
    turn_ids = await run_turns(driver, handle)
    await check_transcript(handle, turn_ids)
    memo = await (await handle.describe()).memo()
    assert memo[TITLE_MEMO] == session_title(TURNS[0][0])


async def test_transcript_and_title_survive_continue_as_new(
    temporal_client: Client, bus_redis: Any, make_settings: Callable[..., Any], mistral_sim: Any
) -> None:
    settings = make_settings(session_turns_per_run=1)
    async with running_worker(temporal_client, bus_redis, settings) as driver:
        handle = await driver.start()
        first_run = (await handle.describe()).run_id
        turn_ids = await run_turns(driver, handle)
        latest = temporal_client.get_workflow_handle(handle.id)
        description = await latest.describe()
        assert description.run_id != first_run
        await check_transcript(latest, turn_ids)
        assert (await description.memo())[TITLE_MEMO] == session_title(TURNS[0][0])
