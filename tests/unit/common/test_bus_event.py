"""What a BusEvent works out once for all the listeners it is handed to."""

from __future__ import annotations

import pytest
from sse_starlette import ServerSentEvent

from scripts.sse import SseDecoder
from services.common.bus import BusEvent, InvalidEventId, decode_message


def test_sse_is_the_frame_sse_starlette_writes_and_is_encoded_once() -> None:
    event = BusEvent("17-2", "message.delta", '{"text":"hi"}')
    frame = ServerSentEvent(data='{"text":"hi"}', event="message.delta", id="17-2").encode()
    assert event.sse == frame
    assert event.sse is event.sse


def test_frames_back_to_back_read_as_the_events_one_by_one() -> None:
    events = [BusEvent("1-0", "turn.started", "{}"), BusEvent("2-0", "turn.completed", "{}")]
    decoder = SseDecoder()
    body = b"".join(event.sse for event in events).decode()
    read = [e for line in body.split("\r\n") if (e := decoder.feed(line)) is not None]
    assert [(e.id, e.event) for e in read] == [("1-0", "turn.started"), ("2-0", "turn.completed")]


@pytest.mark.parametrize(
    ("data", "turn_id"),
    [
        ('{"turn_id":"trn_1","type":"turn.started"}', "trn_1"),
        ('{"session_id":"s","type":"session.ended"}', None),
        ('{"turn_id":null}', None),
        ('{"turn_id":7}', None),
        ("[1,2]", None),
        ("not json", None),
    ],
)
def test_turn_id_is_read_from_the_data_or_none(data: str, turn_id: str | None) -> None:
    assert BusEvent("1-0", "x", data).turn_id == turn_id


def test_key_orders_ids_numerically_and_bad_ids_are_refused() -> None:
    assert BusEvent("10-0", "x", "{}").key > BusEvent("9-5", "x", "{}").key
    assert decode_message(b'3-1\nturn.started\n{"a":1}') == BusEvent(
        "3-1", "turn.started", '{"a":1}'
    )
    with pytest.raises(InvalidEventId):
        BusEvent("nope", "x", "{}")
