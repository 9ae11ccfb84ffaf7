"""The pieces of the list and transcript endpoints that need no server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.common.sessions import (
    TITLE_CHARS,
    ToolCallRecord,
    TranscriptRequest,
    TurnRecord,
    session_title,
    transcript_page,
)
from services.gateway.models import ToolCallOut
from services.gateway.session_list import Cursor, base_query
from services.worker.activity_types import FunctionCall, FunctionOutput
from services.worker.session_state import (
    KEEP_ARGUMENTS_CHARS,
    KEEP_RESULT_CHARS,
    KEEP_TOOL_CALLS,
    tool_call_records,
)


def records(count: int) -> list[TurnRecord]:
    return [
        TurnRecord(turn_id=f"turn_{n}", status="completed", submitted_at="2026-12-02T00:00:00")
        for n in range(count)
    ]


def ids(page: list[TurnRecord]) -> list[str]:
    return [r.turn_id for r in page]


def test_transcript_pages_go_back_from_the_newest() -> None:
    turns = records(5)
    first = transcript_page(turns, TranscriptRequest(limit=2))
    assert (ids(first.turns), first.next_before) == (["turn_3", "turn_4"], "turn_3")
    second = transcript_page(turns, TranscriptRequest(limit=2, before=first.next_before))
    assert (ids(second.turns), second.next_before) == (["turn_1", "turn_2"], "turn_1")
    last = transcript_page(turns, TranscriptRequest(limit=2, before=second.next_before))
    assert (ids(last.turns), last.next_before) == (["turn_0"], None)
    assert transcript_page(turns, TranscriptRequest(limit=2, before="turn_gone")).turns == []
    assert transcript_page([], TranscriptRequest()).next_before is None


def test_a_title_is_one_shortened_line() -> None:
    assert session_title("  Hello\n\tthere  ") == "Hello there"
    long = session_title("word " * 100)
    assert len(long) == TITLE_CHARS
    assert long.endswith("\u2026")


def test_tool_calls_are_kept_bounded_and_failures_as_errors() -> None:
    calls = [FunctionCall(f"c{n}", "food_log", "x" * 5000) for n in range(10)]
    outputs = [
        FunctionOutput(f"c{n}", "food_log", "y" * 5000, is_error=n % 2 == 1) for n in range(10)
    ]
    kept = tool_call_records([], calls, outputs)
    kept = tool_call_records(kept, calls, outputs)
    assert len(kept) == KEEP_TOOL_CALLS
    assert all(len(c.arguments) == KEEP_ARGUMENTS_CHARS for c in kept)
    assert kept[0].result is not None
    assert len(kept[0].result) == KEEP_RESULT_CHARS
    assert kept[0].error is None
    assert (kept[1].result, kept[1].error is not None) == (None, True)


def test_arguments_are_an_object_when_they_are_one() -> None:
    def arguments(text: str) -> object:
        return ToolCallOut.of(ToolCallRecord(name="f", arguments=text)).arguments

    assert arguments('{"a": 1}') == {"a": 1}
    assert arguments("[1, 2]") == "[1, 2]"
    assert arguments('{"a": "cut\u2026') == '{"a": "cut\u2026'
    assert arguments("") == {}


def test_a_page_token_comes_back_as_its_cursor_and_nothing_else_passes() -> None:
    cursor = Cursor(datetime(2026, 12, 2, 13, 53, 47, 580520, tzinfo=UTC), "ses_1")
    assert Cursor.from_token(cursor.token()) == cursor
    for bad in ["", "!!!", "e30", "eyJ0IjogMSwgInMiOiAieCJ9", cursor.token()[:-3]]:
        with pytest.raises(ValueError, match="page token"):
            Cursor.from_token(bad)


def test_queries_name_the_tenant_and_refuse_quotes() -> None:
    query = base_query("acme", "alice")
    assert "SessionTenantId = 'acme'" in query
    assert "SessionUserId = 'alice'" in query
    assert "ExecutionStatus != 'ContinuedAsNew'" in query
    with pytest.raises(ValueError, match="visibility query"):
        base_query("acme", "x' OR SessionTenantId != 'acme")
