"""The SSE relay's filtering and stopping rules, over a scripted subscription."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from scripts.sse import RawEvent, SseDecoder
from services.common.bus import BusEvent
from services.common.sessions import BusKey, TurnError, TurnRecord, TurnUsage
from services.gateway import streams
from services.gateway.auth import Principal
from services.gateway.fanout import ListenerOverflow
from services.gateway.streams import OpenStream, StreamOptions, TurnEnd, relay


class ScriptedSubscription:
    """Yields `events` one at a time (or `ready` at a time through take_ready), then `then`,
    then waits like a live stream with nothing more to come, until `end()`."""

    def __init__(
        self,
        events: list[BusEvent],
        then: BaseException | None = None,
        ready: int = 0,
        replay: bool = False,
    ) -> None:
        self.events = list(events)
        self.then = then
        self.ready = ready
        self.replay = replay  # end after `events`, as a replay-only subscription does
        self.ended = asyncio.Event()
        self.exited = False
        self.live = not replay  # what it yields counts as live (the fan-out lag is observed)
        self.audience = 1  # the only viewer of its session on this process

    def __aiter__(self) -> AsyncIterator[BusEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BusEvent]:
        while self.events:
            yield self.events.pop(0)
        if self.then is not None:
            raise self.then
        if not self.replay:
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


class LogTail:
    """A bus whose log holds `events` (what `read_after` gives past an id), then, with `hang`,
    never answers again (a paused Redis)."""

    def __init__(self, events: list[BusEvent] | None = None, *, hang: bool = False) -> None:
        self.events = events or []
        self.hang = hang

    async def read_after(self, key: BusKey, after: str | None) -> AsyncIterator[BusEvent]:
        for item in self.events:
            yield item
        if self.hang:
            await asyncio.Event().wait()


class Session:
    """Answers whether the turn is over: None (not over / no answer) until `record` is set."""

    def __init__(self, record: TurnRecord | None = None, *, tell_at: int = 0) -> None:
        self.record = record
        self.asked = 0
        self.tell_at = tell_at
        self.told = asyncio.Event()  # set once asked `tell_at` times

    async def check(self) -> TurnRecord | None:
        self.asked += 1
        if self.asked == self.tell_at:
            self.told.set()
        return self.record


QUICK = StreamOptions(ping_s=15, quiet_s=0.02, quiet_max_s=0.08)


def turn_end(session: Session, log: LogTail | None = None) -> TurnEnd:
    return TurnEnd(BusKey("t", "s"), log or LogTail(), session.check)  # type: ignore[arg-type]


async def relayed(
    stream: OpenStream, end: TurnEnd, shutdown: anyio.Event | None = None
) -> list[tuple[str | None, str, dict[str, Any]]]:
    async with asyncio.timeout(2):
        chunks = [c async for c in relay(stream, "t1", shutdown or anyio.Event(), QUICK, end)]
    return [(f.id, f.event, json.loads(f.data)) for c in chunks for f in frames(c)]


async def test_a_quiet_turn_that_is_over_ends_with_its_end_from_the_session() -> None:
    sub = ScriptedSubscription([event(1, "turn.started", "t1"), event(2, "message.delta", "t1")])
    failed = TurnRecord(
        turn_id="t1",
        status="failed",
        submitted_at="2026-12-02T07:00:00+00:00",
        finished_at="2026-12-02T07:00:01.5+00:00",
    )
    failed.error = TurnError(code="model_unavailable", message="the model did not answer")
    session = Session(failed)
    got = await relayed(opened(sub, Slots()), turn_end(session))
    assert [(i, kind) for i, kind, _ in got] == [
        ("1-0", "turn.started"),
        ("2-0", "message.delta"),
        (None, "turn.failed"),  # not a bus event: no id, a resume goes on after 2-0
    ]
    assert got[-1][2] == {
        "session_id": "s",
        "turn_id": "t1",
        "ts": "2026-12-02T07:00:01.500Z",
        "type": "turn.failed",
        "error": {"code": "model_unavailable", "message": "the model did not answer"},
    }
    assert session.asked == 1
    assert sub.exited


async def test_an_end_that_reached_the_log_meanwhile_is_sent_as_published() -> None:
    sub = ScriptedSubscription([event(1, "turn.started", "t1")])
    session = Session(
        TurnRecord(turn_id="t1", status="cancelled", submitted_at="2026-12-02T07:00:00+00:00")
    )
    log = LogTail([event(1, "turn.started", "t1"), event(3, "turn.cancelled", "t1")])
    got = await relayed(opened(sub, Slots()), turn_end(session, log))
    assert [(i, kind) for i, kind, _ in got] == [("1-0", "turn.started"), ("3-0", "turn.cancelled")]


async def test_a_turn_still_going_is_asked_less_often_and_never_ended() -> None:
    sub, shutdown = ScriptedSubscription([event(1, "turn.started", "t1")]), anyio.Event()
    session = Session(tell_at=4)  # after 0.02, 0.04, 0.08, 0.08 s of quiet: backing off
    stream = opened(sub, Slots())
    reader = asyncio.create_task(relayed(stream, turn_end(session), shutdown))
    async with asyncio.timeout(2):
        await session.told.wait()
        shutdown.set()
        got = await reader
    assert [kind for _, kind, _ in got] == ["turn.started"]


async def test_a_replayed_turn_without_its_end_ends_with_it_from_the_record() -> None:
    sub = ScriptedSubscription(
        [event(4, "stream.gap", None), event(5, "message.delta", "t1")], replay=True
    )
    usage = TurnUsage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    done = TurnRecord(
        turn_id="t1", status="completed", submitted_at="x", output="two eggs", usage=usage
    )
    session = Session()
    end = turn_end(session)
    end.record = done
    stream = opened(sub, Slots())
    stream.replaying = True
    got = await relayed(stream, end)
    assert [(i, kind) for i, kind, _ in got] == [
        ("4-0", "stream.gap"),
        ("5-0", "message.delta"),
        (None, "turn.completed"),
    ]
    assert got[-1][2]["output"] == "two eggs"
    assert got[-1][2]["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert session.asked == 0  # known already: no watchdog, no question


async def test_with_redis_paused_the_end_comes_from_the_record_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams, "LOG_READ_TIMEOUT_S", 0.05)
    sub = ScriptedSubscription([event(1, "turn.started", "t1")])
    session = Session(TurnRecord(turn_id="t1", status="cancelled", submitted_at="x"))
    log = LogTail([event(2, "message.delta", "t1")], hang=True)
    got = await relayed(opened(sub, Slots()), turn_end(session, log))
    assert [(i, kind) for i, kind, _ in got] == [("1-0", "turn.started"), (None, "turn.cancelled")]
