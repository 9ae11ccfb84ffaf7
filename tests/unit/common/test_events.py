from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from services.common import events
from services.common.bus import BusEvent, InvalidEventId, RawPublish, decode_message, parse_id
from services.common.sessions import TurnError, TurnUsage


def test_every_vocabulary_name_has_exactly_one_model() -> None:
    models = typing.get_args(typing.get_args(events.Event)[0])
    names = [model.model_fields["type"].default for model in models]
    assert sorted(names) == sorted(events.EVENT_TYPES)
    assert len(set(names)) == len(names)


def test_event_round_trips_through_json_with_common_fields() -> None:
    event = events.TurnCompleted(
        session_id="s1", turn_id="t1", output="Done.", usage=TurnUsage(total_tokens=7)
    )
    parsed = events.parse_event(event.model_dump_json())
    assert parsed == event
    assert isinstance(parsed, events.TurnCompleted)


def test_the_bus_stamps_the_time_an_event_is_logged_and_keeps_one_already_set() -> None:
    built = events.TurnStarted(session_id="s1", turn_id="t1")  # as the workflow builds it
    assert built.ts is None
    logged = events.parse_event(RawPublish.of(built).data)
    assert logged.ts is not None
    assert logged.ts.endswith("Z")
    assert logged.model_copy(update={"ts": None}) == built
    rebuilt = events.TurnCancelled(session_id="s1", turn_id="t1", ts="2026-12-02T07:00:01.500Z")
    assert events.parse_event(RawPublish.of(rebuilt).data).ts == "2026-12-02T07:00:01.500Z"


def test_failed_turn_carries_code_and_message() -> None:
    raw = events.TurnFailed(
        session_id="s", turn_id="t", error=TurnError(code="model_error", message="boom")
    ).model_dump_json()
    assert '"error":{"code":"model_error","message":"boom"}' in raw


def test_unknown_type_and_extra_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        events.parse_event('{"type": "turn.exploded", "session_id": "s"}')
    with pytest.raises(ValidationError):
        events.parse_event('{"type": "turn.started", "session_id": "s", "surprise": 1}')


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("1-0", (1, 0)),
        ("1700000000000-12", (1700000000000, 12)),
        ("5", (5, 0)),
        ("18446744073709551615-18446744073709551615", (2**64 - 1, 2**64 - 1)),
        ("007-01", (7, 1)),
    ],
)
def test_parse_id(raw: str, key: tuple[int, int]) -> None:
    assert parse_id(raw) == key


@pytest.mark.parametrize(
    "raw",
    [
        *["", "abc", "1-x", "-1-0", "1--1", "$", "1-", "+1", "1_0", " 1", "\u0661", "1-+1"],
        # Redis ids are two unsigned 64-bit numbers: one more is not an id.
        *["18446744073709551616-0", "0-18446744073709551616", "18446744073709551616"],
        "1" * 21,
    ],
)
def test_parse_id_rejects_what_is_not_an_id(raw: str) -> None:
    with pytest.raises(InvalidEventId):
        parse_id(raw)


def test_ids_order_numerically_not_lexically() -> None:
    assert parse_id("9-0") < parse_id("10-0")
    assert parse_id("10-9") < parse_id("10-10")


def test_channel_message_keeps_json_intact() -> None:
    data = '{"text":"line one\\nline two","session_id":"s"}'
    assert decode_message(f"5-1\nmessage.delta\n{data}".encode()) == BusEvent(
        "5-1", "message.delta", data
    )
