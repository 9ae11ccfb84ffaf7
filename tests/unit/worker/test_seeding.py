"""Seeds of a new conversation, the inputs a step sends, and the carry's byte budget."""

from __future__ import annotations

from mistralai.client import models as m

from services.common.sessions import TurnRecord
from services.worker import seeding
from services.worker.activity_types import (
    ConverseInput,
    FunctionCall,
    FunctionOutput,
    PriorEntry,
    StepContext,
)
from services.worker.converse import request_inputs
from services.worker.session_limits import KEEP_RECORDS_BYTES
from services.worker.session_state import carried_records


def record(n: int, status: str = "completed", size: int = 10) -> TurnRecord:
    return TurnRecord(
        turn_id=f"turn_{n}",
        status=status,
        submitted_at="2026-12-02T00:00:00Z",
        input=f"in{n} " + "x" * size,
        output=f"out{n}" if status == "completed" else None,
    )


def test_past_turns_keeps_completed_turns_oldest_first() -> None:
    records = [record(1), record(2, "failed"), record(3, "cancelled"), record(4)]
    entries = seeding.past_turns(records)
    assert [(e.kind, e.text.split()[0]) for e in entries] == [
        ("user", "in1"),
        ("assistant", "out1"),
        ("user", "in4"),
        ("assistant", "out4"),
    ]


def test_past_turns_is_bounded_by_turns_and_size() -> None:
    many = [record(n) for n in range(seeding.SEED_TURNS + 5)]
    kept = seeding.past_turns(many)
    assert len(kept) == 2 * seeding.SEED_TURNS
    assert kept[-2].text.startswith(f"in{seeding.SEED_TURNS + 4}")  # the newest are kept
    big = [record(n, size=seeding.SEED_CHARS // 3) for n in range(10)]
    assert 0 < len(seeding.past_turns(big)) // 2 <= 3


def step(**fields: object) -> ConverseInput:
    return ConverseInput(
        context=StepContext("t/s", "s", "turn_1", 0),
        entry_agent_id="ag",
        entry_agent_version=1,
        agent_names={},
        conversation_id=None,
        **fields,  # type: ignore[arg-type]
    )


def test_a_bare_message_goes_as_a_string() -> None:
    assert request_inputs(step(user_input="hello")) == "hello"


def test_seed_results_and_words_go_as_entries_in_order() -> None:
    inputs = request_inputs(
        step(
            user_input="and now?",
            prior=[PriorEntry("user", "hi"), PriorEntry("assistant", "hello")],
            function_outputs=[FunctionOutput("call_1", "food_log", "logged")],
        )
    )
    assert isinstance(inputs, list)
    assert [type(e) for e in inputs] == [
        m.MessageInputEntry,
        m.MessageInputEntry,
        m.FunctionResultEntry,
        m.MessageInputEntry,
    ]
    assert [getattr(e, "role", None) for e in inputs] == ["user", "assistant", None, "user"]


def test_carried_records_fit_the_byte_budget() -> None:
    records = [record(n, size=32_000) for n in range(50)]
    kept = carried_records(records)
    assert 0 < len(kept) < 50
    assert kept[-1].turn_id == "turn_49"
    assert sum(len(r.input) for r in kept) <= KEEP_RECORDS_BYTES


def test_a_tool_step_is_its_calls_then_their_results() -> None:
    calls = [FunctionCall("c1", "food_log", '{"food": "egg"}'), FunctionCall("c2", "goal_get", "")]
    outputs = [FunctionOutput("c1", "food_log", "logged"), FunctionOutput("c2", "goal_get", "2000")]
    assert seeding.tool_step(calls, outputs) == [
        PriorEntry("function.call", '{"food": "egg"}', "c1", "food_log"),
        PriorEntry("function.call", "", "c2", "goal_get"),
        PriorEntry("function.result", "logged", "c1", "food_log"),
        PriorEntry("function.result", "2000", "c2", "goal_get"),
    ]
    assert seeding.tool_step([], []) == []


def test_past_turns_skips_records_without_words_either_way() -> None:
    empty_input = record(1)
    empty_input.input = ""
    no_output = record(2)
    no_output.output = None
    assert seeding.past_turns([empty_input, no_output]) == []
    assert seeding.past_turns([]) == []
