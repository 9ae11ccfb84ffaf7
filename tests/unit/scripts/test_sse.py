from __future__ import annotations

from scripts.sse import RawEvent, SseDecoder


def decode(text: str) -> list[RawEvent]:
    decoder = SseDecoder()
    events = [decoder.feed(line) for line in text.split("\n")]
    return [event for event in events if event is not None]


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
