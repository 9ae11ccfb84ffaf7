"""Bus events as the Server-Sent Events frames the gateway writes."""

from __future__ import annotations

from sse_starlette import ServerSentEvent

from services.common.bus import BusEvent


def _encode(event: BusEvent) -> bytes:
    return ServerSentEvent(data=event.data, event=event.type, id=event.id).encode()


def sse_frame(event: BusEvent) -> bytes:
    """The event as one SSE frame (`id`, `event`, `data`, the data as published, not re-encoded).

    Built once per event per process: the fan-out hands the same event to every local viewer of
    the session (services/gateway/fanout.py), and a thousand viewers share one frame.
    """
    return event.framed(_encode)
