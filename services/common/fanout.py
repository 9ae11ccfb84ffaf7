"""Per-process fan-out of live session events to local listeners over ONE pub/sub connection.

A gateway process holds one `Fanout`. It subscribes to a session's channel while at least one
local listener wants it and delivers each message to bounded per-listener queues: a listener that
falls behind is cut off (it resumes later from its last id) instead of growing memory.

`Fanout.listen` gives a listener with no gap and no duplicate: it subscribes first, waits for the
server's confirmation, backfills from the replay log after `after`, then yields live events while
skipping ids it has already delivered. When Redis drops, the reader reconnects and re-subscribes;
each listener then backfills from its last id again, so an outage costs latency, not events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from services.common.bus import BusEvent, EventBus, channel_name, decode_message, parse_id
from services.common.events import StreamGap

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = logging.getLogger(__name__)


class ListenerOverflow(Exception):
    """The listener fell a whole queue behind and was cut off; it resumes from its last id."""


class FanoutClosed(Exception):
    """The process's fan-out is shutting down."""


_RESYNC: Final = object()  # marker: the connection dropped, backfill from the last id
_CLOSED: Final = object()  # marker: the fan-out is closing
_ENDED: Final = object()  # marker: this one listener was told to end (`Subscription.end`)


class _Listener:
    """One listener's bounded backlog: a deque and at most one waiting reader.

    Not an asyncio.Queue: a popular session puts every event into hundreds of these, so an
    offer is an append plus, only when the reader is idle, one future to wake it.
    """

    __slots__ = ("backlog", "channel", "loop", "maxsize", "overflowed", "waiter")

    def __init__(self, channel: str, maxsize: int) -> None:
        # Kept: on 3.11 each get_running_loop() is a getpid() system call, per wait per viewer.
        self.loop = asyncio.get_running_loop()
        self.channel = channel
        self.maxsize = maxsize
        self.backlog: deque[object] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.overflowed = False

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> object:
        while not self.backlog:
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.backlog.popleft()


class Fanout:
    """One pub/sub connection per process, shared by every local listener."""

    def __init__(
        self,
        redis: Redis,
        bus: EventBus | None = None,
        *,
        queue_size: int = 1000,
        reconnect_backoff_s: tuple[float, float] = (0.05, 2.0),
    ) -> None:
        self.redis = redis
        self.bus = bus or EventBus(redis)
        self.queue_size = queue_size
        self._backoff = reconnect_backoff_s
        self._listeners: dict[str, set[_Listener]] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._stale: set[str] = set()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._control = f"da:fanout:{uuid.uuid4().hex}"
        self._lock = asyncio.Lock()
        self._closed = False
        self.reconnects = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and start reading; with Redis down, the reader keeps trying in the background
        (a gateway starts and reports not-ready rather than failing to boot)."""
        try:
            await self._connect()
        except Exception as exc:
            log.warning("event fan-out cannot reach Redis yet (%s); retrying", type(exc).__name__)
            self._pubsub = None
            self._stale.update(self._listeners)
        self._reader = asyncio.create_task(self._read_forever(), name="fanout-reader")

    async def close(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        for listeners in self._listeners.values():
            for listener in listeners:
                _offer(listener, _CLOSED)
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> Fanout:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def listener_count(self) -> int:
        return sum(len(listeners) for listeners in self._listeners.values())

    @property
    def channel_count(self) -> int:
        return len(self._listeners)

    # -- listening -------------------------------------------------------------------------

    def listen(self, session_id: str, after: str | None = None) -> Subscription:
        """Events of `session_id` after `after` (None: only new ones), as an async iterator.

        Use as `async with fanout.listen(sid, after) as events: async for event in events`.
        Raises InvalidEventId for a malformed `after` before anything is subscribed.
        """
        if after is not None:
            parse_id(after)
        return Subscription(self, session_id, after)

    async def _add(self, session_id: str) -> _Listener:
        if self._closed:
            raise FanoutClosed("the event fan-out is closed")
        channel = channel_name(session_id)
        listener = _Listener(channel, self.queue_size)
        async with self._lock:
            listeners = self._listeners.setdefault(channel, set())
            listeners.add(listener)
            if channel not in self._confirmed:
                self._confirmed[channel] = asyncio.Event()
                if self._pubsub is not None:
                    with contextlib.suppress(Exception):  # the reader reconnects and re-subscribes
                        await self._pubsub.subscribe(channel)
        try:
            await self._confirmed[channel].wait()
        except BaseException:  # cancelled or timed out by the caller: leave nothing behind
            await asyncio.shield(self._remove(listener))
            raise
        return listener

    async def _remove(self, listener: _Listener) -> None:
        async with self._lock:
            listeners = self._listeners.get(listener.channel)
            if listeners is None:
                return
            listeners.discard(listener)
            if not listeners:
                del self._listeners[listener.channel]
                self._confirmed.pop(listener.channel, None)
                self._stale.discard(listener.channel)
                if self._pubsub is not None:
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(listener.channel)

    # -- the reader ------------------------------------------------------------------------

    async def _connect(self) -> None:
        pubsub = self.redis.pubsub()
        try:
            # A private control channel keeps the connection subscribed even with no listeners,
            # so the reader can block on it and notice a drop at once.
            await pubsub.subscribe(self._control, *self._listeners)
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise
        self._pubsub = pubsub

    async def _read_forever(self) -> None:
        delay = self._backoff[0]
        while not self._closed:
            try:
                if self._pubsub is None:
                    await self._connect()
                    delay = self._backoff[0]
                assert self._pubsub is not None
                message = await self._pubsub.get_message(timeout=None)
                if message is not None:
                    self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: re-subscribe, listeners backfill
                await self._drop_connection(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])

    async def _drop_connection(self, exc: BaseException) -> None:
        log.warning("event fan-out lost Redis (%s); reconnecting", type(exc).__name__)
        self.reconnects += 1
        self._stale.update(self._listeners)
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = _as_str(message["channel"])
        if kind == "message":
            listeners = self._listeners.get(channel)
            if listeners:
                event = decode_message(message["data"])
                for listener in listeners:  # _offer never adds or removes one: no copy needed
                    _offer(listener, event)
        elif kind == "subscribe":
            confirmed = self._confirmed.get(channel)
            if confirmed is None:
                return
            if channel in self._stale or confirmed.is_set():
                # Re-subscribed after a drop: what was published meanwhile is only in the log.
                self._stale.discard(channel)
                for listener in tuple(self._listeners.get(channel, ())):
                    _offer(listener, _RESYNC)
            confirmed.set()


def _offer(listener: _Listener, item: object) -> None:
    if listener.overflowed:
        return
    if len(listener.backlog) >= listener.maxsize:
        listener.overflowed = True
        # Free the backlog now; the consumer sees the flag on its next read.
        listener.backlog.clear()
        listener.backlog.append(_CLOSED)
    else:
        listener.backlog.append(item)
    listener.wake()


def _as_str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Subscription:
    """One listener's view: backfill after `after`, then live events, each id exactly once."""

    def __init__(self, fanout: Fanout, session_id: str, after: str | None) -> None:
        self.fanout = fanout
        self.session_id = session_id
        self.last_id = after
        self._last_key = parse_id(after) if after is not None else None
        self._listener: _Listener | None = None
        self._iterator: AsyncIterator[BusEvent] | None = None
        # True while the iterator waits on live events only (no backfill under way), so events
        # already queued may be taken out of order with nothing older still to come.
        self._live = False
        self._held: object | None = None  # a marker `take_ready` met; the iterator handles it
        self._ended = False
        self._replay_only = False

    async def __aenter__(self) -> Subscription:
        self._listener = await self.fanout._add(self.session_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._listener is not None:
            await self.fanout._remove(self._listener)
            self._listener = None

    def end(self) -> None:
        """Stop the iterator at its next step, keeping what it has not yielded for a resume
        (the server is shutting down: the client reconnects with its last id elsewhere)."""
        self._ended = True
        if self._listener is not None:
            self._listener.backlog.appendleft(_ENDED)
            self._listener.wake()

    def replay_only(self) -> None:
        """End at the end of the log instead of going on live: for what is over (a finished
        turn), where nothing more will come. Call before iterating. A log that no longer holds
        what was published gives a `stream.gap`, even to a listener that starts from "0"."""
        self._replay_only = True

    def __aiter__(self) -> AsyncIterator[BusEvent]:
        if self._iterator is None:
            self._iterator = self._events()
        return self._iterator

    async def _events(self) -> AsyncIterator[BusEvent]:
        listener = self._listener
        if listener is None:
            raise RuntimeError("use `async with fanout.listen(...)` before iterating")
        bus = self.fanout.bus
        if self.last_id is not None:
            gap = await bus.gap_after(self.session_id, self.last_id, published=self._replay_only)
            if gap is not None:
                notice = StreamGap(
                    session_id=self.session_id, after=self.last_id, first_available=gap.first_id
                )
                yield BusEvent(self.last_id, notice.type, notice.model_dump_json())
            async for event in self._backfill():
                yield event
        if self._replay_only:
            return
        self._live = True
        while True:
            if self._held is not None:
                item, self._held = self._held, None
            else:
                item = await listener.next()
            if listener.overflowed:
                raise ListenerOverflow(
                    f"listener of {self.session_id} fell behind; resume after {self.last_id}"
                )
            if item is _CLOSED:
                raise FanoutClosed("the event fan-out is closed")
            if item is _ENDED or self._ended:
                return
            if item is _RESYNC:
                self._live = False
                async for replayed in self._backfill(retry=True):
                    yield replayed
                self._live = True
                continue
            assert isinstance(item, BusEvent)
            if self._fresh(item):
                yield item

    def take_ready(self, limit: int) -> list[BusEvent]:
        """Up to `limit` live events already queued, taken without waiting, in order.

        For a consumer that has just received an event from the iterator and can send several
        at once (one write instead of many when it has fallen behind). Takes nothing while a
        backfill is under way, and stops at a reconnect, close or overflow marker, which the
        iterator then handles as usual.
        """
        listener = self._listener
        taken: list[BusEvent] = []
        if listener is None or not self._live:
            return taken
        while len(taken) < limit and self._held is None and not listener.overflowed:
            if not listener.backlog:
                break
            item = listener.backlog.popleft()
            if isinstance(item, BusEvent):
                if self._fresh(item):
                    taken.append(item)
            else:
                self._held = item
        return taken

    def _fresh(self, event: BusEvent) -> bool:
        key = event.key
        if self._last_key is not None and key <= self._last_key:
            return False
        self._last_key = key
        self.last_id = event.id
        return True

    async def _backfill(self, *, retry: bool = False) -> AsyncIterator[BusEvent]:
        for attempt in range(20 if retry else 1):
            try:
                async for event in self.fanout.bus.read_after(self.session_id, self.last_id):
                    if self._fresh(event):
                        yield event
                return
            except (ConnectionError, OSError, TimeoutError) as exc:
                if attempt == 19 or not retry:
                    raise
                log.debug("backfill retry after %s", exc)
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
