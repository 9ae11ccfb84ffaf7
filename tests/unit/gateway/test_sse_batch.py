"""Several SSE frames sent as one chunk read exactly as the frames sent one by one."""

from __future__ import annotations

from sse_starlette import ServerSentEvent

from services.gateway.streams import SseBatch


def test_a_batch_encodes_as_its_frames_back_to_back() -> None:
    frames = [
        ServerSentEvent(data='{"n":1}', event="message.delta", id="1-0"),
        ServerSentEvent(data='{"n":2}', event="turn.completed", id="2-0"),
    ]
    batch = SseBatch(frames)
    assert batch.encode() == frames[0].encode() + frames[1].encode()
    assert (batch.id, batch.event) == ("2-0", "turn.completed")
