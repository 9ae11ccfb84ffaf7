"""A bus event's SSE frame: what sse_starlette writes, built once per event per process."""

from __future__ import annotations

from sse_starlette import ServerSentEvent

from scripts.sse import SseDecoder
from services.common.bus import BusEvent
from services.gateway.frames import sse_frame


def test_the_frame_is_what_sse_starlette_writes_and_is_encoded_once() -> None:
    event = BusEvent("17-2", "message.delta", '{"text":"hi"}')
    frame = ServerSentEvent(data='{"text":"hi"}', event="message.delta", id="17-2").encode()
    assert sse_frame(event) == frame
    assert sse_frame(event) is sse_frame(event)


def test_frames_back_to_back_read_as_the_events_one_by_one() -> None:
    events = [BusEvent("1-0", "turn.started", "{}"), BusEvent("2-0", "turn.completed", "{}")]
    decoder = SseDecoder()
    body = b"".join(sse_frame(event) for event in events).decode()
    read = [e for line in body.split("\r\n") if (e := decoder.feed(line)) is not None]
    assert [(e.id, e.event) for e in read] == [("1-0", "turn.started"), ("2-0", "turn.completed")]
