"""The gateway's SSE response: writes that go through, and a write to a client that stopped
reading, cut by the event loop's watchdog after the send timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.types import Message

from services.gateway import event_stream
from services.gateway.event_stream import EventStreamResponse, SendTimeoutError

SCOPE = {"type": "http", "method": "GET", "path": "/", "headers": []}


@pytest.fixture(autouse=True)
def quick_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_stream, "TICK_S", 0.02)


class Client:
    """An ASGI peer that never disconnects and stops reading after `reads` body chunks."""

    def __init__(self, reads: int) -> None:
        self.reads = reads
        self.bodies: list[bytes] = []
        self.stalled = asyncio.Event()
        self._never = asyncio.Event()

    async def receive(self) -> Message:
        await self._never.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            return
        if len(self.bodies) == self.reads:
            self.stalled.set()
            await self._never.wait()  # a full socket buffer that never drains
        self.bodies.append(message.get("body", b""))


class Events:
    """Yields `count` chunks, then waits for more that never come; notes its cleanup."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.closed = asyncio.Event()

    async def __call__(self) -> AsyncIterator[bytes]:
        try:
            for index in range(self.count):
                yield f"data: {index}\n\n".encode()
            await asyncio.Event().wait()
        finally:
            self.closed.set()


async def test_writes_that_go_through_are_sent_and_the_stream_ends_with_its_events() -> None:
    client = Client(reads=10)

    async def three() -> AsyncIterator[bytes]:
        for index in range(3):
            yield f"data: {index}\n\n".encode()

    response = EventStreamResponse(three(), ping=0, send_timeout=0.05)
    await asyncio.wait_for(response(SCOPE, client.receive, client.send), 5)
    assert client.bodies[:3] == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n"]
    assert client.bodies[-1] == b""  # the final, empty chunk: the response ended cleanly


async def test_a_write_to_a_client_that_stopped_reading_is_cut_after_the_send_timeout() -> None:
    client, events = Client(reads=2), Events(count=5)
    response = EventStreamResponse(events(), ping=0, send_timeout=0.1)
    loop = asyncio.get_running_loop()
    call = asyncio.create_task(response(SCOPE, client.receive, client.send))
    await asyncio.wait_for(client.stalled.wait(), 5)
    stalled_at = loop.time()
    with pytest.raises(SendTimeoutError):
        await asyncio.wait_for(call, 5)
    assert loop.time() - stalled_at >= 0.1  # not before the timeout
    assert events.closed.is_set()  # the stream's own cleanup (its slot, its listener) ran
    assert client.bodies == [b"data: 0\n\n", b"data: 1\n\n"]


async def test_a_cancel_from_outside_during_a_write_stays_a_cancel() -> None:
    client, events = Client(reads=0), Events(count=1)
    response = EventStreamResponse(events(), ping=0, send_timeout=30)
    call = asyncio.create_task(response(SCOPE, client.receive, client.send))
    await asyncio.wait_for(client.stalled.wait(), 5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert events.closed.is_set()


async def test_a_stalled_ping_is_cut_like_any_other_write() -> None:
    client, events = Client(reads=1), Events(count=1)  # the one event, then pings stall
    response = EventStreamResponse(events(), ping=0.01, send_timeout=0.1)
    with pytest.raises(SendTimeoutError):
        await asyncio.wait_for(response(SCOPE, client.receive, client.send), 5)
    assert events.closed.is_set()
