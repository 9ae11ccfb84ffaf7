"""The Redis event bus: a capped replay log plus a live channel per session.

`EventBus.publish` appends an event to the session's stream (the replay log, capped and expiring
after the session's last event) and publishes it on the session's channel in one Lua script, so a
listener that subscribed before reading the log can never miss an event between the two. A
session's stream and channel are named by its `BusKey` (tenant and session), not by its id.
Live delivery to many local listeners is `services.gateway.fanout.Fanout`.

On a Redis Cluster a script's keys must share a slot, so a session's stream, channel and once
keys carry its bus key as one hash tag (`da:events:{<tenant>/<session>}`), and the script
publishes with SPUBLISH (sharded pub/sub: the message goes to the node owning the slot only, not
to every node). A plain Redis keeps the names without braces: a rolling upgrade then finds the
replay logs and channels the previous version wrote. Moving an existing deployment onto a
cluster starts empty logs: a client resuming from an old id gets a `stream.gap` and rebuilds
from the session's transcript, as after any lost log (costs a replay, never an answer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

import orjson
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster

from services.common.events import Event
from services.common.publish_queue import PublishQueue

if TYPE_CHECKING:
    from services.common.redis_client import AnyRedis
    from services.common.sessions import BusKey

KEY_PREFIX = "da:events:"

# KEYS: stream, channel[, once]. ARGV: maxlen, ttl seconds, type, data.
# The channel message is "<id>\n<type>\n<data>": compact JSON holds no raw newline.
# With a third key the publish happens once: that key keeps the first publish's id, which a
# repeat (a retried activity that had published before it failed) gets back instead.
_PUBLISH_LUA = """
if #KEYS == 3 then
  local first = redis.call('GET', KEYS[3])
  if first then return first end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[3], 'd', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], id .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[4])
if #KEYS == 3 then redis.call('SET', KEYS[3], id, 'EX', ARGV[2]) end
return id
"""
# The same on a cluster: sharded pub/sub, to the node that owns the session's slot.
_SPUBLISH_LUA = _PUBLISH_LUA.replace("'PUBLISH'", "'SPUBLISH'")
ONCE_PREFIX = "da:once:"


class _Unset:
    """Not worked out yet (a cached value may itself be None)."""


_UNSET: Final = _Unset()


@dataclass(frozen=True, slots=True)
class RawPublish:
    """One event to publish: its type, its JSON data, and its `once` key (see `publish`)."""

    type: str
    data: str
    once: str | None = None

    @classmethod
    def of(cls, event: Event, once: str | None = None) -> RawPublish:
        """The event as logged: stamped with the time it is handed to the bus."""
        stamped = event.stamped()
        return cls(stamped.type, stamped.model_dump_json(), once)


class InvalidEventId(ValueError):
    """A `Last-Event-ID` / `after` that is not a bus id."""


@dataclass(frozen=True, slots=True)
class BusEvent:
    """One event as delivered: its bus id, SSE event name and JSON data (not re-encoded).

    A process decodes each event once and hands the same object to all its listeners, so what
    every listener needs from it (its sort key, its turn, its wire frame) is worked out once here.
    """

    id: str
    type: str
    data: str
    key: tuple[int, int] = field(init=False, repr=False, compare=False)
    _turn_id: str | _Unset | None = field(default=_UNSET, init=False, repr=False, compare=False)
    _frame: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", parse_id(self.id))

    @property
    def turn_id(self) -> str | None:
        """The `turn_id` in the data, None for a session-wide event."""
        if isinstance(self._turn_id, _Unset):
            try:
                value = orjson.loads(self.data).get("turn_id")
            except (orjson.JSONDecodeError, AttributeError):
                value = None
            object.__setattr__(self, "_turn_id", value if isinstance(value, str) else None)
        return cast("str | None", self._turn_id)

    def framed(self, encode: Callable[[BusEvent], bytes]) -> bytes:
        """The event as `encode` frames it for the wire: built by the first listener that asks,
        shared by the rest. A process has one wire frame (the gateway's SSE frame:
        services/gateway/frames.py), so the first `encode` is the only one."""
        if self._frame is None:
            object.__setattr__(self, "_frame", encode(self))
        return cast(bytes, self._frame)


def _traced_here() -> bool:
    """Whether the caller's publish belongs in a trace: a shared pipeline cannot be one
    session's span, so such a publish goes on its own (a few a turn; deltas are untraced)."""
    return is_instrumentation_enabled() and trace.get_current_span().is_recording()


def parse_id(event_id: str) -> tuple[int, int]:
    """A stream id `ms-seq` as a comparable pair; a bare `ms` means `ms-0`.

    Only what Redis takes as a stream id: ASCII digits (no sign, space or `_`), each part at most
    2^64-1. A larger part would pass a digits-only check and then fail in Redis mid-stream.
    """
    ms, dash, seq = event_id.partition("-")
    parts = (ms, seq) if dash else (ms,)
    if not all(0 < len(part) <= 20 and part.isascii() and part.isdigit() for part in parts):
        raise InvalidEventId(f"not an event id: {event_id!r}")
    key = (int(ms), int(seq) if dash else 0)
    if key[0] > 0xFFFF_FFFF_FFFF_FFFF or key[1] > 0xFFFF_FFFF_FFFF_FFFF:
        raise InvalidEventId(f"not an event id (a part above 2^64-1): {event_id!r}")
    return key


def _tagged(key: BusKey, cluster: bool) -> str:
    # The key's text, as every earlier version named the session's Redis keys: see
    # BusKey.__str__. The prefixes hold no brace, so the tag is the same part of every key of a
    # session, whatever braces the ids themselves hold.
    return f"{{{key}}}" if cluster else str(key)


def stream_key(key: BusKey, *, cluster: bool = False) -> str:
    return f"{KEY_PREFIX}{_tagged(key, cluster)}"


def channel_name(key: BusKey, *, cluster: bool = False) -> str:
    return f"{KEY_PREFIX}{_tagged(key, cluster)}"


def once_key(key: BusKey, once: str, *, cluster: bool = False) -> str:
    return f"{ONCE_PREFIX}{_tagged(key, cluster)}:{once}"


def decode_message(payload: bytes | str) -> BusEvent:
    text = payload.decode() if isinstance(payload, bytes) else payload
    event_id, event_type, data = text.split("\n", 2)
    return BusEvent(event_id, event_type, data)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class LogBounds:
    """What the replay log holds: whether it exists, its first id, and whether it was trimmed."""

    exists: bool
    first_id: str | None
    trimmed: bool


class EventBus:
    """Publishes session events and reads the replay log."""

    def __init__(
        self, redis: AnyRedis, *, maxlen: int = 10_000, ttl_s: int = 7 * 24 * 3600
    ) -> None:
        self.redis = redis
        self.maxlen = maxlen
        self.ttl_s = ttl_s
        self.cluster = isinstance(redis, RedisCluster)
        self._publish = redis.register_script(_SPUBLISH_LUA if self.cluster else _PUBLISH_LUA)
        # Plain Redis: a process's publishes share pipelines (services/common/publish_queue.py).
        # A cluster routes each session to its node and keeps one pipeline per batch; a caller's
        # own pipeline (tests batch through one) sends what it is given.
        self._queue = (
            None
            if isinstance(redis, RedisCluster | Pipeline)
            else PublishQueue(redis, self._publish)
        )

    def stream_key(self, key: BusKey) -> str:
        return stream_key(key, cluster=self.cluster)

    def channel(self, key: BusKey) -> str:
        return channel_name(key, cluster=self.cluster)

    async def publish(self, key: BusKey, event: Event, *, once: str | None = None) -> str:
        """Append to the log and publish live, atomically; returns the event's bus id.

        `once`: a key, unique in the session, that makes the publish idempotent for as long as
        the log lives: a second publish with it publishes nothing and returns the first's id.
        """
        raw = RawPublish.of(event, once)
        return await self.publish_raw(key, raw.type, raw.data, once=once)

    async def publish_raw(
        self, key: BusKey, event_type: str, data: str, *, once: str | None = None
    ) -> str:
        keys, args = self._script_input(key, event_type, data, once)
        if (queue := self._shared()) is not None:
            return _text((await queue.run([(keys, args)]))[0])
        return _text(await self._publish(keys=keys, args=args))

    async def publish_batch(self, key: BusKey, events: Sequence[RawPublish]) -> list[str]:
        """Several events in order, in one round trip (a pipeline of the publish script);
        returns their ids. A step's deltas go this way: a busy worker publishes what queued up
        while the previous batch was on the wire, rather than one round trip per delta."""
        if len(events) == 1:
            event = events[0]
            return [await self.publish_raw(key, event.type, event.data, once=event.once)]
        if self.cluster:
            return await self._publish_batch_cluster(key, events)
        if (queue := self._shared()) is not None:
            calls = [self._script_input(key, e.type, e.data, e.once) for e in events]
            return [_text(reply) for reply in await queue.run(calls)]
        assert not isinstance(self.redis, RedisCluster)
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                keys, args = self._script_input(key, event.type, event.data, event.once)
                await self._publish(keys=keys, args=args, client=pipe)
            replies = await pipe.execute()
        return [_text(reply) for reply in replies]

    async def _publish_batch_cluster(self, key: BusKey, events: Sequence[RawPublish]) -> list[str]:
        # A cluster pipeline cannot load a script a node lacks (NOSCRIPT fails the batch), so
        # it sends the script's text; every key shares the session's slot: one node, one trip.
        assert isinstance(self.redis, RedisCluster)
        pipe = self.redis.pipeline()
        for event in events:
            keys, args = self._script_input(key, event.type, event.data, event.once)
            pipe.eval(_SPUBLISH_LUA, len(keys), *keys, *args)
        replies = await pipe.execute()
        return [_text(reply) for reply in replies]

    def _shared(self) -> PublishQueue | None:
        """The process's shared pipelines, unless there are none (a cluster, a caller's own
        pipeline) or this caller's publish belongs in its trace."""
        return None if self._queue is None or _traced_here() else self._queue

    def _script_input(
        self, key: BusKey, event_type: str, data: str, once: str | None
    ) -> tuple[list[str], list[str | int]]:
        keys = [self.stream_key(key), self.channel(key)]
        if once is not None:
            keys.append(once_key(key, once, cluster=self.cluster))
        return keys, [self.maxlen, self.ttl_s, event_type, data]

    async def read_after(
        self, key: BusKey, after: str | None, *, page: int = 500
    ) -> AsyncIterator[BusEvent]:
        """Every logged event after `after` (all of them when None), oldest first."""
        start = "-" if after is None else f"({after}"
        if after is not None:
            parse_id(after)
        stream = self.stream_key(key)
        while True:
            entries = await self.redis.xrange(stream, min=start, max="+", count=page) or []
            for raw_id, fields in entries:
                if raw_id is None or fields is None:
                    continue
                event_id = _text(raw_id)
                yield BusEvent(event_id, _text(fields[b"t"]), _text(fields[b"d"]))
                start = f"({event_id}"
            if len(entries) < page:
                return

    async def bounds(self, key: BusKey) -> LogBounds:
        try:
            info = await self.redis.xinfo_stream(self.stream_key(key))
        except Exception as exc:  # redis raises ResponseError "no such key"
            if "no such key" in str(exc).lower():
                return LogBounds(False, None, False)
            raise
        first = info.get("first-entry")
        trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        return LogBounds(True, _text(first[0]) if first else None, trimmed)

    async def gap_after(
        self, key: BusKey, after: str, *, published: bool = False
    ) -> LogBounds | None:
        """The log's bounds when events after `after` may be gone from it, else None.

        Trimming keeps no record of what it dropped, so a trimmed log whose first entry is newer
        than `after` counts as a gap (a client that saw the very last trimmed event is told too;
        it refetches the session's state, which costs little). `published`: events are known to
        have been published, so a missing log is a gap even from the start.
        """
        after_key = parse_id(after)
        bounds = await self.bounds(key)
        if not bounds.exists:
            # A client that saw an event has a log that expired or was lost with Redis.
            return bounds if after_key > (0, 0) or published else None
        if bounds.trimmed and (bounds.first_id is None or parse_id(bounds.first_id) > after_key):
            return bounds
        return None

    async def delete(self, key: BusKey) -> None:
        await self.redis.delete(self.stream_key(key))
