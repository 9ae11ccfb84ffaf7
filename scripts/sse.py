"""Reading Server-Sent Events, line by line: one decoder for the chat client, the benchmarks and
the tests (the gateway writes SSE with sse-starlette; reading it is ours)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

# The events that end a turn: services.common.events.TERMINAL_TURN_EVENTS, restated because the
# clients here speak HTTP only and import nothing of the services (a test keeps the two equal).
TERMINAL_TURN_EVENTS = frozenset({"turn.completed", "turn.failed", "turn.cancelled"})


@dataclass(frozen=True, slots=True)
class RawEvent:
    id: str | None
    event: str
    data: str  # the `data:` lines joined, not yet decoded

    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.data)
        return value


class SseDecoder:
    """Feed it the body's lines; it returns an event at each blank line that ends one."""

    __slots__ = ("_data", "_event", "_id")

    def __init__(self) -> None:
        self._id: str | None = None
        self._event = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> RawEvent | None:
        if not line:
            event = RawEvent(self._id, self._event, "\n".join(self._data)) if self._data else None
            self._id, self._event, self._data = None, "message", []
            return event
        if line.startswith(":"):  # a comment: the gateway's heartbeat pings
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            self._id = value
        elif field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None


def read_events(lines: Iterable[str]) -> Iterator[RawEvent]:
    """The events of an SSE body's lines (comments, e.g. the gateway's pings, skipped)."""
    decoder = SseDecoder()
    for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event


async def aread_events(lines: AsyncIterable[str]) -> AsyncIterator[RawEvent]:
    """`read_events` for a body read asynchronously (`response.aiter_lines()`)."""
    decoder = SseDecoder()
    async for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event
