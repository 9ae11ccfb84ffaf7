"""SSE relay: a session's bus events to one client, each event once, in order, then a clean close.

A stream holds two things that must be let go however it ends (done, client gone, shutdown):
its fan-out subscription and its concurrent-stream slot. `OpenStream.close` releases both and is
called both from the body's `finally` and as the response's background task.

A stream of one turn ends at the turn's terminal event. The bus is delivery, the workflow the
record of truth: when that event is not in the log (its publish was lost, or the log was trimmed
or expired: then the replay starts with `stream.gap`), the stream ends with one derived from the
session's record of the turn instead, rather than waiting for an end that will never come
(`TurnEnd`). A derived event is not on the bus, so it has no SSE `id`: a client that resumes
does so after the last bus event it got.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import anyio
from redis.exceptions import RedisError
from sse_starlette import ServerSentEvent
from starlette.background import BackgroundTask

from services.common.bus import BusEvent, EventBus
from services.common.events import (
    TERMINAL_TURN_EVENTS,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    utc_now,
)
from services.common.sessions import BusKey, TurnError, TurnRecord, TurnUsage
from services.gateway import metrics
from services.gateway.auth import Principal
from services.gateway.event_stream import EventStreamResponse
from services.gateway.fanout import Fanout, FanoutClosed, ListenerOverflow, Subscription
from services.gateway.frames import sse_frame
from services.gateway.problems import Problem
from services.gateway.ratelimit import StreamSlots

log = logging.getLogger(__name__)

SESSION_END = "session.ended"
SUBSCRIBE_TIMEOUT_S = 10.0
# How long a finished turn's stream reads the log for an end that may have reached it meanwhile.
LOG_READ_TIMEOUT_S = 5.0


async def log_is_whole(bus: EventBus, key: BusKey) -> bool:
    """Whether the session's replay log still holds everything published (neither expired nor
    trimmed): then a finished turn replays to its end and its stream ends by itself."""
    try:
        bounds = await bus.bounds(key)
    except (RedisError, OSError):
        return False  # cannot tell: the caller asks the session
    return bounds.exists and not bounds.trimmed


def redis_unavailable(exc: BaseException) -> Problem:
    log.warning("event stream unavailable: %s", type(exc).__name__)
    return Problem(
        503,
        "events-unavailable",
        "The event bus is unavailable; retry.",
        headers={"Retry-After": "1"},
    )


@dataclass(frozen=True, slots=True)
class StreamOptions:
    ping_s: float
    send_timeout_s: float = 30.0
    # How long a stream may take to end by itself at shutdown before it is cut.
    shutdown_grace_s: float = 2.0
    # A turn's stream that has had no event for this long asks the session whether the turn is
    # over (None: one heartbeat interval), then less and less often while it stays quiet.
    quiet_s: float | None = None
    quiet_max_s: float = 120.0

    @property
    def turn_quiet_s(self) -> float:
        return self.quiet_s if self.quiet_s is not None else self.ping_s


class OpenStream:
    """A subscribed listener plus its slot, entered before any Temporal call: nothing is missed."""

    def __init__(
        self,
        slots: StreamSlots,
        principal: Principal,
        token: str,
        subscription: Subscription,
        after: str | None = None,
    ) -> None:
        self._slots = slots
        self._principal = principal
        self._token: str | None = token
        self.subscription = subscription
        self.after = after
        self.replaying = False
        self._entered = False

    def replay_only(self) -> None:
        """End at the end of the log instead of going on live (see Subscription.replay_only)."""
        self.replaying = True
        self.subscription.replay_only()

    @classmethod
    async def open(
        cls,
        fanout: Fanout,
        slots: StreamSlots,
        principal: Principal,
        key: BusKey,
        after: str | None,
    ) -> OpenStream:
        # `after` was checked at the edge (valid_event_id): listen() cannot refuse it here.
        subscription = fanout.listen(key, after)
        try:
            token = await slots.acquire(principal.key_id)
        except (RedisError, OSError) as exc:
            raise redis_unavailable(exc) from None
        if token is None:
            raise Problem(
                429,
                "too-many-streams",
                f"This API key has {slots.limit} streams open; close one or retry later.",
                headers={"Retry-After": "5"},
            )
        stream = cls(slots, principal, token, subscription, after)
        try:
            # The fan-out waits for Redis to confirm the subscription; it may be reconnecting.
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                await subscription.__aenter__()
        except (TimeoutError, FanoutClosed) as exc:
            await stream.close()
            raise redis_unavailable(exc) from None
        except BaseException:
            await stream.close()
            raise
        stream._entered = True
        metrics.ACTIVE_STREAMS.inc()
        return stream

    async def close(self) -> None:
        # Shielded: a client that goes away cancels the response, and its cleanup with it, so a
        # slot would stay taken until its lease ran out. Bounded, in case Redis hangs.
        with anyio.move_on_after(5, shield=True):
            if self._entered:
                self._entered = False
                metrics.ACTIVE_STREAMS.dec()
                await self.subscription.__aexit__(None, None, None)
            if self._token is not None:
                token, self._token = self._token, None
                await self._slots.release(self._principal.key_id, token)


# At most this many queued events go out in one chunk.
BATCH_MAX = 64


async def _end_at_shutdown(subscription: Subscription, shutdown: anyio.Event) -> None:
    await shutdown.wait()
    subscription.end()


def _chunk(events: list[BusEvent], turn_id: str | None) -> tuple[bytes, bool]:
    """The frames of `events` to send as one chunk, and whether the stream is done after them.

    With `turn_id`, only that turn's and session-wide events; done after the turn's terminal
    event. Done after `session.ended` either way.
    """
    frames: list[bytes] = []
    for event in events:
        event_turn = event.turn_id if turn_id is not None else None
        if turn_id is not None and event_turn not in (turn_id, None):
            continue
        frames.append(sse_frame(event))
        ends_turn = turn_id is not None and event_turn == turn_id
        if event.type == SESSION_END or (ends_turn and event.type in TERMINAL_TURN_EVENTS):
            return b"".join(frames), True
    return b"".join(frames), False


TurnCheck = Callable[[], Awaitable[TurnRecord | None]]


@dataclass(slots=True)
class TurnEnd:
    """What a stream of one turn needs to end when the log does not end it.

    `check` asks the session whether the turn is over (its record) or not / cannot say (None).
    `record` is set when that is known already (a replay-only stream of a finished turn).
    """

    key: BusKey
    bus: EventBus
    check: TurnCheck
    record: TurnRecord | None = None


async def replay_if_turn_over(stream: OpenStream, end: TurnEnd) -> None:
    """A finished turn whose events left the log: replay what is left, then end with the end
    from the session's record. Only here is the session asked whether the turn is over: a whole
    log ends a finished turn by itself, and a turn's stream that stays quiet asks then (see
    `relay`). No answer in time (no worker) means: go on live."""
    if await log_is_whole(end.bus, end.key):
        return
    end.record = await end.check()
    if end.record is not None:
        stream.replay_only()


@dataclass(slots=True)
class _Progress:
    """What a turn's stream has passed on so far, for its watchdog and its derived end."""

    last_id: str | None
    last_key: tuple[int, int] | None = None
    at: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def saw(self, events: list[BusEvent]) -> None:
        """Events in bus order, as a listener yields them."""
        self.at = asyncio.get_running_loop().time()
        last = events[-1]
        if self.last_key is None or last.key > self.last_key:
            self.last_key, self.last_id = last.key, last.id


def derived_end(session_id: str, record: TurnRecord) -> TurnCompleted | TurnFailed | TurnCancelled:
    """The turn's terminal event as the session's record of the turn tells it, for a stream
    whose log does not hold the published one."""
    ts = _event_ts(record.finished_at)
    if record.status == "completed":
        usage = record.usage or TurnUsage()
        output = record.output or ""
        return TurnCompleted(
            session_id=session_id, turn_id=record.turn_id, ts=ts, output=output, usage=usage
        )
    if record.status == "failed":
        error = record.error or TurnError(code="error", message="the turn failed")
        return TurnFailed(session_id=session_id, turn_id=record.turn_id, ts=ts, error=error)
    return TurnCancelled(session_id=session_id, turn_id=record.turn_id, ts=ts)


def _event_ts(value: str | None) -> str:
    """A workflow timestamp (ISO 8601) in the events' own form (milliseconds, `Z`)."""
    if value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return utc_now()


async def _watch_turn(
    subscription: Subscription, end: TurnEnd, progress: _Progress, options: StreamOptions
) -> None:
    """While the turn's stream is quiet, ask the session now and then whether the turn is over;
    when it is, end the live stream (the relay then ends it from the log or the record).

    Nothing is asked while events flow: a turn whose end is published ends by itself.
    """
    loop = asyncio.get_running_loop()
    wait = base = options.turn_quiet_s
    asked = 0.0
    while True:
        due = max(progress.at, asked) + wait
        if (now := loop.time()) < due:
            await asyncio.sleep(due - now)
            continue
        seen = progress.at
        record = await end.check()
        if record is not None:
            end.record = record
            subscription.end()
            return
        # Still going, or the session cannot say (no worker): ask again later, less often
        # while nothing happens.
        asked = loop.time()
        wait = min(wait * 2, options.quiet_max_s) if progress.at == seen else base


async def _finish_turn(end: TurnEnd, turn_id: str, progress: _Progress) -> AsyncIterator[bytes]:
    """After the live or replayed events: the turn's end, from the log if it reached it since,
    else derived from the session's record."""
    record = end.record if end.record is not None else await end.check()
    if record is None:
        return  # cannot tell (no worker for an ended session): the client may resume later
    rest: list[BusEvent] = []
    try:
        async with asyncio.timeout(LOG_READ_TIMEOUT_S):  # a paused Redis: the record will do
            async for event in end.bus.read_after(end.key, progress.last_id):
                if progress.last_key is None or event.key > progress.last_key:
                    rest.append(event)
    except (RedisError, OSError, TimeoutError) as exc:
        log.info("cannot read the rest of a finished turn's log: %s", type(exc).__name__)
        rest.clear()
    if rest:
        progress.saw(rest)
        chunk, done = _chunk(rest, turn_id)
        if chunk:
            yield chunk
        if done:
            return
    derived = derived_end(end.key.session_id, record)
    yield ServerSentEvent(data=derived.model_dump_json(), event=derived.type).encode()


async def relay(
    stream: OpenStream,
    turn_id: str | None,
    shutdown: anyio.Event,
    options: StreamOptions | None = None,
    turn_end: TurnEnd | None = None,
) -> AsyncIterator[bytes]:
    """The stream's events as encoded SSE frames, until the turn's (or the session's) end, an
    overflow or server shutdown. At shutdown the response then ends cleanly (a final empty
    chunk) instead of being cut, and the client resumes on another process.

    Events already queued when one arrives go out with it in one chunk: a stream that keeps up
    sends each event alone at once; one that fell behind catches up in fewer writes.

    With `turn_end` (a stream of `turn_id`), a replay-only stream that ends without the turn's
    terminal event, and a live one that stays quiet while the session says the turn is over,
    end with that event from the log or derived from the session's record.
    """
    subscription = stream.subscription
    tasks = [asyncio.create_task(_end_at_shutdown(subscription, shutdown))]
    # Only a turn's stream keeps track of its progress: a session's ends at session.ended.
    progress = _Progress(stream.after) if turn_end is not None and turn_id is not None else None
    if progress is not None and turn_end is not None and not stream.replaying:
        watch = _watch_turn(subscription, turn_end, progress, options or StreamOptions(ping_s=15))
        tasks.append(asyncio.create_task(watch))
    try:
        async for first in subscription:
            if subscription.live:  # not a replay from the log: its age is the fan-out's lag
                metrics.observe_lag(first, subscription.audience)
            events = [first, *subscription.take_ready(BATCH_MAX)]
            if progress is not None:
                progress.saw(events)
            chunk, done = _chunk(events, turn_id)
            if chunk:
                yield chunk
            if done:
                return
        # The log's replay is over, or the session said the turn is over: end it.
        if progress is not None and turn_end is not None and not shutdown.is_set():
            assert turn_id is not None
            async for chunk in _finish_turn(turn_end, turn_id, progress):
                yield chunk
    except ListenerOverflow:
        # Cut off for falling behind: the client reconnects with its Last-Event-ID.
        log.info("closing a stream that fell behind")
    except FanoutClosed:
        pass
    finally:
        for task in tasks:
            task.cancel()
        await stream.close()


def sse_response(
    stream: OpenStream,
    options: StreamOptions,
    *,
    turn_id: str | None = None,
    turn_end: TurnEnd | None = None,
    headers: Mapping[str, str] | None = None,
) -> EventStreamResponse:
    shutdown = anyio.Event()
    return EventStreamResponse(
        relay(stream, turn_id, shutdown, options, turn_end),
        headers=dict(headers or {}),
        ping=options.ping_s,
        send_timeout=options.send_timeout_s,
        background=BackgroundTask(stream.close),
        shutdown_event=shutdown,
        shutdown_grace_period=options.shutdown_grace_s,
    )
