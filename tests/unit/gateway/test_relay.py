"""The SSE relay's filtering and stopping rules, over a scripted subscription."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio

from scripts.sse import RawEvent, SseDecoder
from services.common.bus import BusEvent
from services.common.fanout import ListenerOverflow
from services.gateway.auth import Principal
from services.gateway.streams import OpenStream, relay


class ScriptedSubscription:
    """Yields `events` one at a time (or `ready` at a time through take_ready), then `then`,
    then waits like a live stream with nothing more to come, until `end()`."""

    def __init__(
        self, events: list[BusEvent], then: BaseException | None = None, ready: int = 0
    ) -> None:
        self.events = list(events)
        self.then = then
        self.ready = ready
        self.ended = asyncio.Event()
        self.exited = False

    def __aiter__(self) -> AsyncIterator[BusEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BusEvent]:
        while self.events:
            yield self.events.pop(0)
        if self.then is not None:
            raise self.then
        await self.ended.wait()

    def take_ready(self, limit: int) -> list[BusEvent]:
        taken = self.events[: min(limit, self.ready)]
        del self.events[: len(taken)]
        return taken

    def end(self) -> None:
        self.ended.set()

    async def __aexit__(self, *exc: object) -> None:
        self.exited = True


class Slots:
    released: list[str]

    def __init__(self) -> None:
        self.released = []

    async def release(self, key_id: str, token: str) -> None:
        self.released.append(token)


def event(n: int, kind: str, turn: str | None) -> BusEvent:
    data = json.dumps({"session_id": "s", "turn_id": turn, "type": kind})
    return BusEvent(f"{n}-0", kind, data)


def opened(subscription: ScriptedSubscription, slots: Slots) -> OpenStream:
    stream = OpenStream(slots, Principal("t", "k"), "token", subscription)  # type: ignore[arg-type]
    stream._entered = True
    return stream


def frames(chunk: bytes) -> list[RawEvent]:
    decoder = SseDecoder()
    return [e for line in chunk.decode().split("\r\n") if (e := decoder.feed(line)) is not None]


async def collect(stream: OpenStream, turn_id: str | None, shutdown: anyio.Event) -> list[Any]:
    async with asyncio.timeout(2):
        chunks = [chunk async for chunk in relay(stream, turn_id, shutdown)]
    return [(frame.id, frame.event) for chunk in chunks for frame in frames(chunk)]


async def test_one_turn_is_filtered_and_ends_at_its_terminal_event() -> None:
    sub, slots = (
        ScriptedSubscription(
            [
                event(1, "turn.started", "t1"),
                event(2, "turn.started", "t2"),
                event(3, "message.delta", "t1"),
                event(4, "stream.gap", None),
                event(5, "turn.completed", "t2"),
                event(6, "turn.completed", "t1"),
                event(7, "message.delta", "t1"),
            ]
        ),
        Slots(),
    )
    frames = await collect(opened(sub, slots), "t1", anyio.Event())
    assert frames == [
        ("1-0", "turn.started"),
        ("3-0", "message.delta"),
        ("4-0", "stream.gap"),
        ("6-0", "turn.completed"),
    ]
    assert sub.exited
    assert slots.released == ["token"]


async def test_session_stream_ends_at_session_ended() -> None:
    sub = ScriptedSubscription([event(1, "turn.completed", "t1"), event(2, "session.ended", None)])
    frames = await collect(opened(sub, Slots()), None, anyio.Event())
    assert [kind for _, kind in frames] == ["turn.completed", "session.ended"]


async def test_overflow_closes_the_stream_cleanly() -> None:
    sub = ScriptedSubscription([event(1, "message.delta", "t1")], then=ListenerOverflow("slow"))
    frames = await collect(opened(sub, Slots()), None, anyio.Event())
    assert frames == [("1-0", "message.delta")]
    assert sub.exited


async def test_shutdown_ends_a_waiting_stream() -> None:
    sub, shutdown = ScriptedSubscription([event(1, "message.delta", "t1")]), anyio.Event()
    received: list[Any] = []
    first = asyncio.Event()

    async def read() -> None:
        async for chunk in relay(opened(sub, Slots()), None, shutdown):
            received.extend(frame.id for frame in frames(chunk))
            first.set()

    reader = asyncio.create_task(read())
    async with asyncio.timeout(2):
        await first.wait()
        shutdown.set()  # the stream is now waiting for a next event that never comes
        await reader
    assert received == ["1-0"]
    assert sub.exited


async def test_queued_events_go_out_as_one_chunk_and_the_filter_still_applies() -> None:
    events = [
        event(1, "message.delta", "t1"),
        event(2, "message.delta", "t2"),
        event(3, "message.delta", "t1"),
        event(4, "turn.completed", "t1"),
        event(5, "message.delta", "t1"),
    ]
    sub = ScriptedSubscription(events, ready=10)
    stream = opened(sub, Slots())
    async with asyncio.timeout(2):
        chunks = [chunk async for chunk in relay(stream, "t1", anyio.Event())]
    assert len(chunks) == 1
    assert [f.id for f in frames(chunks[0])] == ["1-0", "3-0", "4-0"]
