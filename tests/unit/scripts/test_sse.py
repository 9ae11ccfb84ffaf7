from __future__ import annotations

from scripts.sse import TERMINAL_TURN_EVENTS, RawEvent, read_events
from services.common.events import TERMINAL_TURN_EVENTS as SERVICE_TERMINAL


def decode(text: str) -> list[RawEvent]:
    return list(read_events(text.split("\n")))


def test_the_clients_terminal_events_are_the_services() -> None:
    assert TERMINAL_TURN_EVENTS == SERVICE_TERMINAL


def test_events_with_ids_names_and_multiline_data() -> None:
    body = (
        'id: 1-0\nevent: message.delta\ndata: {"text":\ndata: "hi"}\n\n'
        ": ping\n\nid: 2-0\ndata: {}\n\n"
    )
    events = decode(body)
    assert events == [
        RawEvent("1-0", "message.delta", '{"text":\n"hi"}'),
        RawEvent("2-0", "message", "{}"),
    ]
    assert events[0].json() == {"text": "hi"}


def test_a_block_without_data_or_a_comment_yields_nothing() -> None:
    assert decode("event: ping\n\n: keep-alive\n\n") == []


def test_value_keeps_all_but_one_leading_space() -> None:
    (event,) = decode("data:  two spaces\n\n")
    assert event.data == " two spaces"
