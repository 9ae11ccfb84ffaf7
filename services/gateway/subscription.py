"""One listener of the per-process fan-out: its bounded backlog and its view of a session.

`Fanout` (services/gateway/fanout.py) owns the pub/sub connection and offers each message to the
`Listener` of every local subscriber. A `Subscription` turns that backlog into the events after
its position, each once: it catches up from the replay log (a `stream.gap` first when the log no
longer holds what came after its position), then yields live events, skipping ids it has
already delivered. After a reconnect it catches up again, the same way, from its last id.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Final

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.common.bus import BusEvent, EventBus, parse_id
from services.common.events import StreamGap

if TYPE_CHECKING:
    from services.common.sessions import BusKey
    from services.gateway.fanout import Fanout

log = logging.getLogger(__name__)


class ListenerOverflow(Exception):
    """The listener fell a whole queue behind and was cut off; it resumes from its last id."""


class FanoutClosed(Exception):
    """The process's fan-out is shutting down."""


RESYNC: Final = object()  # marker: the connection dropped, catch up from the log
CLOSED: Final = object()  # marker: the fan-out is closing
ENDED: Final = object()  # marker: this one listener was told to end (`Subscription.end`)

# Redis errors that pass: a catch-up after a reconnect retries them (Redis may still be coming
# back), about 15 s in all; a first one fails at once, so the client gets an error and retries
# rather than wait on a stream that says nothing.
_TRANSIENT: Final = (RedisConnectionError, RedisTimeoutError, OSError)
_RETRIES: Final = 19


class Listener:
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


def offer(listener: Listener, item: object) -> None:
    if listener.overflowed:
        return
    if len(listener.backlog) >= listener.maxsize:
        listener.overflowed = True
        # Free the backlog now; the consumer sees the flag on its next read.
        listener.backlog.clear()
        listener.backlog.append(CLOSED)
    else:
        listener.backlog.append(item)
    listener.wake()


async def log_end(bus: EventBus, key: BusKey) -> str:
    """The id of the last event in the session's log; "0-0" when there is no log."""
    entries = await bus.redis.xrevrange(bus.stream_key(key), "+", "-", count=1)
    if not entries:
        return "0-0"
    raw_id = entries[0][0]
    return raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)


class Subscription:
    """One listener's view: backfill after `after`, then live events, each id exactly once."""

    def __init__(self, fanout: Fanout, key: BusKey, after: str | None) -> None:
        self.fanout = fanout
        self.key = key
        self.last_id = after
        self._last_key = parse_id(after) if after is not None else None
        # Where a live-only listener (no `after`) started: the log's end once it was subscribed.
        # A catch-up before it has delivered anything starts here, not at the start of the log.
        # Never a dedupe key: an event published between the subscription and this read comes
        # live, and is delivered.
        self._origin: str | None = None
        self._listener: Listener | None = None
        self._iterator: AsyncIterator[BusEvent] | None = None
        # True while the iterator waits on live events only (no backfill under way), so events
        # already queued may be taken out of order with nothing older still to come.
        self._live = False
        self._held: object | None = None  # a marker `take_ready` met; the iterator handles it
        self._ended = False
        self._replay_only = False

    async def __aenter__(self) -> Subscription:
        listener = await self.fanout._add(self.key)
        if self.last_id is None:
            try:
                self._origin = await self._read_origin()
            except BaseException:
                await asyncio.shield(self.fanout._remove(listener))
                raise
        self._listener = listener
        return self

    async def _read_origin(self) -> str:
        # Subscribed a moment ago, so Redis is up: a failure here is a blip, retried (callers
        # bound the wait for a subscription), rather than an error a stream would fail with.
        for attempt in range(_RETRIES + 1):
            try:
                return await log_end(self.fanout.bus, self.key)
            except _TRANSIENT as exc:
                if attempt == _RETRIES:
                    raise
                log.debug("reading where %s starts, retrying after %r", self.key, exc)
                await _pause(attempt)
        raise AssertionError("unreachable")

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
            self._listener.backlog.appendleft(ENDED)
            self._listener.wake()

    def replay_only(self) -> None:
        """End at the end of the log instead of going on live: for what is over (a finished
        turn), where nothing more will come. Call before iterating. A log that no longer holds
        what was published gives a `stream.gap`, even to a listener that starts from "0"."""
        self._replay_only = True

    @property
    def live(self) -> bool:
        """Whether the last event yielded came live (not from the log: a backfill or catch-up)."""
        return self._live

    @property
    def audience(self) -> int:
        """How many listeners of this process follow the session, this one included."""
        return self.fanout.audience(self.fanout.bus.channel(self.key))

    def __aiter__(self) -> AsyncIterator[BusEvent]:
        if self._iterator is None:
            self._iterator = self._events()
        return self._iterator

    async def _events(self) -> AsyncIterator[BusEvent]:
        listener = self._listener
        if listener is None:
            raise RuntimeError("use `async with fanout.listen(...)` before iterating")
        if self.last_id is not None:
            async for event in self._catch_up(retries=0):
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
                    f"listener of {self.key} fell behind; resume after {self.last_id}"
                )
            if item is CLOSED:
                raise FanoutClosed("the event fan-out is closed")
            if item is ENDED or self._ended:
                return
            if item is RESYNC:
                # Re-subscribed after a drop: what was published meanwhile is only in the log.
                self._live = False
                async for replayed in self._catch_up(retries=_RETRIES):
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

    async def _catch_up(self, *, retries: int) -> AsyncIterator[BusEvent]:
        """Everything the log holds after this listener's position, a `stream.gap` first when
        it no longer holds all of it: for the first backfill and after every reconnect.

        The position is the last id delivered, else where a live-only listener started.
        A retry goes on from the last event yielded, and tells of a gap at most once.
        """
        bus = self.fanout.bus
        gap_checked = False
        for attempt in range(retries + 1):
            position = self.last_id or self._origin
            assert position is not None, "a subscription has a position once entered"
            try:
                if not gap_checked:
                    gap = await bus.gap_after(self.key, position, published=self._replay_only)
                    gap_checked = True
                    if gap is not None:
                        notice = StreamGap(
                            session_id=self.key.session_id,  # the bare id, as every event
                            after=position,
                            first_available=gap.first_id,
                        )
                        data = notice.stamped().model_dump_json()
                        yield BusEvent(position, notice.type, data)
                async for event in bus.read_after(self.key, position):
                    if self._fresh(event):
                        yield event
                return
            except _TRANSIENT as exc:
                if attempt == retries:
                    raise
                log.debug("catch-up of %s retries after %r", self.key, exc)
                await _pause(attempt)


async def _pause(attempt: int) -> None:
    await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
