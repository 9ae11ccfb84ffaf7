"""Per-process fan-out of live session events to local listeners over ONE pub/sub connection.

A gateway process holds one `Fanout`. It subscribes to a session's channel while at least one
local listener wants it and delivers each message to bounded per-listener queues: a listener that
falls behind is cut off (it resumes later from its last id) instead of growing memory.

`Fanout.listen` gives a listener with no gap and no duplicate: it subscribes first, waits for the
server's confirmation, backfills from the replay log after `after`, then yields live events while
skipping ids it has already delivered (services/gateway/subscription.py). When Redis drops, the
reader reconnects and re-subscribes; each listener then catches up from the log again, from its
last id (or from where it started, if it has had nothing yet), so an outage costs latency, not
events. A connection that goes silent instead (a paused Redis, a dropped TCP path) is noticed by
a health check, a PING once it has been idle, and dropped and reconnected the same way.
On a Redis Cluster, `ClusterFanout` (services/gateway/cluster_fanout.py) keeps these guarantees
over sharded pub/sub, one connection per node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.common.bus import EventBus, decode_message, parse_id
from services.gateway.subscription import (
    CLOSED,
    RESYNC,
    FanoutClosed,
    Listener,
    ListenerOverflow,
    Subscription,
    offer,
)

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

    from services.common.redis_client import AnyRedis
    from services.common.sessions import BusKey

__all__ = ["Fanout", "FanoutClosed", "ListenerOverflow", "Subscription"]

log = logging.getLogger(__name__)


class Fanout:
    """One pub/sub connection per process, shared by every local listener."""

    def __init__(
        self,
        redis: AnyRedis,
        bus: EventBus | None = None,
        *,
        queue_size: int = 1000,
        reconnect_backoff_s: tuple[float, float] = (0.05, 2.0),
        health_check_s: float = 3.0,
    ) -> None:
        """`health_check_s`: the longest the pub/sub connection may stay silent (no message,
        no answer to a PING) before it is dropped and reconnected; a connect and its subscribe
        are bounded by it too, so a reconnect to a Redis that does not answer gives up."""
        self.redis = redis
        self.bus = bus or EventBus(redis)
        self.queue_size = queue_size
        self.health_check_s = health_check_s
        self._backoff = reconnect_backoff_s
        # A read waits at most this long, so the reader sees an idle connection and PINGs it.
        self._read_timeout_s = min(1.0, health_check_s / 3)
        self._listeners: dict[str, set[Listener]] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._stale: set[str] = set()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._control = f"da:fanout:{uuid.uuid4().hex}"
        self._lock = asyncio.Lock()
        self._closed = False
        self._subscribe_failed = False  # a listener's SUBSCRIBE failed: reconnect to redo it
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
                offer(listener, CLOSED)
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

    def audience(self, channel: str) -> int:
        """How many local listeners follow `channel` now."""
        return len(self._listeners.get(channel, ()))

    # -- listening -------------------------------------------------------------------------

    def listen(self, key: BusKey, after: str | None = None) -> Subscription:
        """Events of the session `key` names, after `after` (None: only new ones), as an async
        iterator.

        Use as `async with fanout.listen(key, after) as events: async for event in events`.
        Raises InvalidEventId for a malformed `after` before anything is subscribed.
        """
        if after is not None:
            parse_id(after)
        return Subscription(self, key, after)

    async def _add(self, key: BusKey) -> Listener:
        if self._closed:
            raise FanoutClosed("the event fan-out is closed")
        channel = self.bus.channel(key)
        listener = Listener(channel, self.queue_size)
        async with self._lock:
            listeners = self._listeners.setdefault(channel, set())
            listeners.add(listener)
            if channel not in self._confirmed:
                self._confirmed[channel] = asyncio.Event()
                await self._subscribe(channel)
        try:
            await self._confirmed[channel].wait()
        except BaseException:  # cancelled or timed out by the caller: leave nothing behind
            await asyncio.shield(self._remove(listener))
            raise
        return listener

    async def _remove(self, listener: Listener) -> None:
        async with self._lock:
            listeners = self._listeners.get(listener.channel)
            if listeners is None:
                return
            listeners.discard(listener)
            if not listeners:
                del self._listeners[listener.channel]
                self._confirmed.pop(listener.channel, None)
                self._stale.discard(listener.channel)
                await self._unsubscribe(listener.channel)

    async def _subscribe(self, channel: str) -> None:
        """A channel's first local listener came (under the lock); its confirmation, a
        "subscribe" message, releases the listeners that wait for it."""
        if self._pubsub is not None:
            try:
                await self._pubsub.subscribe(channel)
            except Exception:  # the reader reconnects and re-subscribes them all
                self._subscribe_failed = True

    async def _unsubscribe(self, channel: str) -> None:
        """A channel's last local listener left (under the lock)."""
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe(channel)

    # -- the reader ------------------------------------------------------------------------

    async def _connect(self) -> None:
        pubsub = self.redis.pubsub()
        channels = tuple(self._listeners)
        try:
            # Bounded: a Redis that accepts the connection but does not answer (paused) must
            # not hold the reader. redis-py closes a connection cancelled mid-handshake.
            async with asyncio.timeout(self.health_check_s):
                # A private control channel keeps the connection subscribed even with no
                # listeners, so the reader can read (and PING) it whatever the listeners.
                await pubsub.subscribe(self._control, *channels)
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise
        self._subscribe_failed = False
        self._pubsub = pubsub
        # Channels whose first listener came while this connected: `_add` had no connection.
        late = self._listeners.keys() - channels
        if late:
            try:
                await pubsub.subscribe(*late)
            except Exception:
                self._subscribe_failed = True

    async def _read_forever(self) -> None:
        delay = self._backoff[0]
        while not self._closed:
            try:
                if self._pubsub is None:
                    await self._connect()
                    delay = self._backoff[0]
                assert self._pubsub is not None
                await self._read(self._pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: re-subscribe, listeners catch up
                await self._drop_connection(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])

    async def _read(
        self, pubsub: PubSub, dispatch: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        """Dispatch messages (to `dispatch`, by default `_dispatch`) until the connection
        fails, which raises.

        Health check: a read waits at most `_read_timeout_s`; once the connection has been idle
        that long it is PINGed (the answer comes back as a message), and when nothing at all
        has come for `health_check_s` it is taken for dead (TimeoutError).
        """
        loop = asyncio.get_running_loop()
        dispatch = dispatch or self._dispatch
        read_timeout = self._read_timeout_s
        silent_since: float | None = None
        while not self._subscribe_failed:
            message = await pubsub.get_message(timeout=read_timeout)
            if message is not None:
                silent_since = None
                dispatch(message)
                continue
            now = loop.time()
            if silent_since is None:
                silent_since = now - read_timeout
                await pubsub.ping()
            elif now - silent_since >= self.health_check_s:
                raise TimeoutError(f"no answer from Redis for {now - silent_since:.1f} s")
        raise ConnectionError("a SUBSCRIBE failed on this connection")

    async def _drop_connection(self, exc: BaseException) -> None:
        log.warning("event fan-out lost Redis (%r); reconnecting", exc)
        self.reconnects += 1
        self._stale.update(self._listeners)
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "message":
            listeners = self._listeners.get(_as_str(message["channel"]))
            if listeners:
                event = decode_message(message["data"])
                for listener in listeners:  # offer never adds or removes one: no copy needed
                    offer(listener, event)
        elif kind == "subscribe":  # other kinds (a health check's "pong", an unsubscribe): none
            channel = _as_str(message["channel"])
            confirmed = self._confirmed.get(channel)
            if confirmed is None:
                return
            if channel in self._stale or confirmed.is_set():
                # Re-subscribed after a drop: what was published meanwhile is only in the log.
                self._stale.discard(channel)
                for listener in tuple(self._listeners.get(channel, ())):
                    offer(listener, RESYNC)
            confirmed.set()


def _as_str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
