"""SSE relay: a session's bus events to one client, each event once, in order, then a clean close.

A stream holds two things that must be let go however it ends (done, client gone, shutdown):
its fan-out subscription and its concurrent-stream slot. `OpenStream.close` releases both and is
called both from the body's `finally` and as the response's background task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import anyio
from redis.exceptions import RedisError
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from services.common.bus import BusEvent, EventBus
from services.common.events import TERMINAL_TURN_EVENTS
from services.common.fanout import Fanout, FanoutClosed, ListenerOverflow, Subscription
from services.gateway.auth import Principal
from services.gateway.problems import Problem
from services.gateway.ratelimit import StreamSlots

log = logging.getLogger(__name__)

SESSION_END = "session.ended"
SUBSCRIBE_TIMEOUT_S = 10.0


async def log_is_whole(bus: EventBus, bus_key: str) -> bool:
    """Whether the session's replay log still holds everything published (neither expired nor
    trimmed): then a finished turn replays to its end and its stream ends by itself."""
    try:
        bounds = await bus.bounds(bus_key)
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


class OpenStream:
    """A subscribed listener plus its slot, entered before any Temporal call: nothing is missed."""

    def __init__(
        self, slots: StreamSlots, principal: Principal, token: str, subscription: Subscription
    ) -> None:
        self._slots = slots
        self._principal = principal
        self._token: str | None = token
        self.subscription = subscription
        self._entered = False

    @classmethod
    async def open(
        cls,
        fanout: Fanout,
        slots: StreamSlots,
        principal: Principal,
        bus_key: str,
        after: str | None,
    ) -> OpenStream:
        # `after` was checked at the edge (valid_event_id): listen() cannot refuse it here.
        subscription = fanout.listen(bus_key, after)
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
        stream = cls(slots, principal, token, subscription)
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
        return stream

    async def close(self) -> None:
        # Shielded: a client that goes away cancels the response, and its cleanup with it, so a
        # slot would stay taken until its lease ran out. Bounded, in case Redis hangs.
        with anyio.move_on_after(5, shield=True):
            if self._entered:
                self._entered = False
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
        frames.append(event.sse)
        ends_turn = turn_id is not None and event_turn == turn_id
        if event.type == SESSION_END or (ends_turn and event.type in TERMINAL_TURN_EVENTS):
            return b"".join(frames), True
    return b"".join(frames), False


async def relay(
    stream: OpenStream, turn_id: str | None, shutdown: anyio.Event
) -> AsyncIterator[bytes]:
    """The stream's events as encoded SSE frames, until the turn's (or the session's) end, an
    overflow or server shutdown. At shutdown the response then ends cleanly (a final empty
    chunk) instead of being cut, and the client resumes on another process.

    Events already queued when one arrives go out with it in one chunk: a stream that keeps up
    sends each event alone at once; one that fell behind catches up in fewer writes.
    """
    subscription = stream.subscription
    ender = asyncio.create_task(_end_at_shutdown(subscription, shutdown))
    try:
        async for first in subscription:
            chunk, done = _chunk([first, *subscription.take_ready(BATCH_MAX)], turn_id)
            if chunk:
                yield chunk
            if done:
                return
    except ListenerOverflow:
        # Cut off for falling behind: the client reconnects with its Last-Event-ID.
        log.info("closing a stream that fell behind")
    except FanoutClosed:
        pass
    finally:
        ender.cancel()
        await stream.close()


def sse_response(
    stream: OpenStream,
    options: StreamOptions,
    *,
    turn_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> EventSourceResponse:
    shutdown = anyio.Event()
    return EventSourceResponse(
        relay(stream, turn_id, shutdown),
        headers=dict(headers or {}),
        ping=options.ping_s,
        send_timeout=options.send_timeout_s,
        background=BackgroundTask(stream.close),
        shutdown_event=shutdown,
        shutdown_grace_period=options.shutdown_grace_s,
    )
