"""The SSE relay's filtering and stopping rules, over a scripted subscription."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio

from services.common.bus import BusEvent
from services.common.fanout import ListenerOverflow
from services.gateway.auth import Principal
from services.gateway.streams import OpenStream, relay


class ScriptedSubscription:
    def __init__(self, events: list[BusEvent], then: BaseException | None = None) -> None:
        self.events = events
        self.then = then
        self.exited = False

    def __aiter__(self) -> AsyncIterator[BusEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BusEvent]:
        for event in self.events:
            yield event
        if self.then is not None:
            raise self.then
        await asyncio.Event().wait()  # a live stream: nothing more, ever

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


async def collect(stream: OpenStream, turn_id: str | None, shutdown: anyio.Event) -> list[Any]:
    async with asyncio.timeout(2):
        return [(frame.id, frame.event) async for frame in relay(stream, turn_id, shutdown)]


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
    frames: list[Any] = []
    first = asyncio.Event()

    async def read() -> None:
        async for frame in relay(opened(sub, Slots()), None, shutdown):
            frames.append(frame.id)
            first.set()

    reader = asyncio.create_task(read())
    async with asyncio.timeout(2):
        await first.wait()
        shutdown.set()  # the stream is now waiting for a next event that never comes
        await reader
    assert frames == ["1-0"]
    assert sub.exited
