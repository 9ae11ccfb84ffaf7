"""What a BusEvent works out once for all the listeners it is handed to."""

from __future__ import annotations

import pytest

from services.common.bus import BusEvent, InvalidEventId, decode_message


def test_a_frame_is_built_once_and_shared() -> None:
    event = BusEvent("17-2", "message.delta", '{"text":"hi"}')
    built: list[BusEvent] = []

    def encode(framed: BusEvent) -> bytes:
        built.append(framed)
        return framed.id.encode()

    assert event.framed(encode) == b"17-2"
    assert event.framed(encode) is event.framed(encode)
    assert built == [event]


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
