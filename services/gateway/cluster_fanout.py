"""The per-process fan-out on a Redis Cluster: sharded pub/sub, one connection per node.

A session's events are published with SPUBLISH (services/common/bus.py), which reaches only the
node that owns the session's slot, so a listener must SSUBSCRIBE on that node. `ClusterFanout`
keeps one `_NodeLink` per node that has local listeners: its own pub/sub connection and its own
reader task (one reader for all nodes would block on one and miss the others' messages).

Everything else is `Fanout`'s (services/gateway/fanout.py): a listener subscribes first, waits for
the confirmation, backfills from the log and skips ids it has had. When a node's connection
drops, or the node hands a slot over (the server unsubscribes its channels), the channels it
carried become "homeless": the placer task refreshes the cluster's map, subscribes each on the
node that owns it now, and the confirmation tells its listeners to catch up from the log. What
was published while a node was unreachable was never delivered live; the log holds it.
Per-node connections do not retry on their own: the placer retries with a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.asyncio.connection import ConnectionPool

from services.common.bus import EventBus
from services.gateway.fanout import Fanout
from services.gateway.subscription import CLOSED, offer

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub
    from redis.asyncio.cluster import ClusterNode, RedisCluster

log = logging.getLogger(__name__)

# Sharded pub/sub messages as the plain fan-out reads them.
_KINDS = {"smessage": "message", "ssubscribe": "subscribe"}


@dataclass(eq=False)
class _NodeLink:
    """One node's pub/sub connection, the channels it carries and the task reading it."""

    name: str
    client: aioredis.Redis
    pubsub: PubSub
    channels: set[str] = field(default_factory=set)
    reader: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self.reader is not None and self.reader is not asyncio.current_task():
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]
        with contextlib.suppress(Exception):
            await self.client.aclose()


class ClusterFanout(Fanout):
    """`Fanout` over sharded pub/sub: a connection and a reader per node with listeners."""

    def __init__(self, redis: RedisCluster, bus: EventBus | None = None, **options: Any) -> None:
        super().__init__(redis, bus, **options)
        self.cluster = redis
        self._links: dict[str, _NodeLink] = {}
        self._placed: dict[str, _NodeLink] = {}  # channel -> the link that carries it
        self._homeless: set[str] = set()  # wanted channels no node carries yet
        self._wake = asyncio.Event()
        self._placer: asyncio.Task[None] | None = None

    @property
    def node_count(self) -> int:
        """Nodes this process holds a pub/sub connection to."""
        return len(self._links)

    async def start(self) -> None:
        """Learn the cluster's map; with no node answering, the placer keeps trying (a gateway
        starts and reports not-ready rather than failing to boot)."""
        try:
            await self.cluster.initialize()
        except Exception as exc:
            log.warning("event fan-out cannot reach the Redis Cluster yet (%r); retrying", exc)
        self._placer = asyncio.create_task(self._place_forever(), name="fanout-placer")

    async def close(self) -> None:
        self._closed = True
        if self._placer is not None:
            self._placer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._placer
        for links in self._listeners.values():
            for listener in links:
                offer(listener, CLOSED)
        for link in tuple(self._links.values()):
            await link.close()
        self._links.clear()

    # -- placing channels on nodes (under the lock) -------------------------------------------

    async def _subscribe(self, channel: str) -> None:
        self._homeless.add(channel)
        try:
            await self._place((channel,))
        except Exception as exc:  # the placer retries
            log.debug("subscribing %s failed (%r); the placer retries", channel, exc)
            self._wake.set()

    async def _unsubscribe(self, channel: str) -> None:
        self._homeless.discard(channel)
        link = self._placed.pop(channel, None)
        if link is None:
            return
        link.channels.discard(channel)
        if not link.channels:  # nothing left to read on that node: free its connection
            del self._links[link.name]
            await link.close()
        else:
            with contextlib.suppress(Exception):
                await link.pubsub.sunsubscribe(channel)

    async def _place(self, channels: tuple[str, ...]) -> None:
        """Subscribe homeless channels on the nodes that own their slots; raises when a node
        cannot be reached (the channels stay homeless)."""
        by_node: dict[str, tuple[ClusterNode, list[str]]] = {}
        for channel in channels:
            node = self.cluster.get_node_from_key(channel)
            if node is None:
                raise LookupError(f"no node owns the slot of {channel} yet")
            by_node.setdefault(node.name, (node, []))[1].append(channel)
        failure: Exception | None = None
        for name, (node, wanted) in by_node.items():
            try:
                link = self._links.get(name)
                if link is None:
                    link = await self._connect_node(node, wanted)
                else:
                    await link.pubsub.ssubscribe(*wanted)
            except Exception as exc:
                failure = exc
                continue
            link.channels.update(wanted)
            for channel in wanted:
                self._placed[channel] = link
                self._homeless.discard(channel)
        if failure is not None:
            raise failure

    async def _connect_node(self, node: ClusterNode, channels: list[str]) -> _NodeLink:
        # A plain client on the node, with the cluster's connection settings (TLS, password,
        # timeouts): redis-py's cluster pub/sub reads one node at a time.
        # (The node's connection settings name its host and port.)
        pool = ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs)
        client = aioredis.Redis(connection_pool=pool)
        pubsub = client.pubsub()
        link = _NodeLink(node.name, client, pubsub)
        try:
            async with asyncio.timeout(self.health_check_s):
                await pubsub.ssubscribe(*channels)
        except BaseException:
            await link.close()
            raise
        link.reader = asyncio.create_task(self._read_node(link), name=f"fanout-{node.name}")
        self._links[node.name] = link
        return link

    async def _place_forever(self) -> None:
        delay = self._backoff[0]
        while not self._closed:
            await self._wake.wait()
            try:
                async with self._lock:
                    if self._homeless:
                        # The map may be stale (a node restarted, a slot moved): ask again.
                        await self.cluster.nodes_manager.initialize()
                        await self._place(tuple(self._homeless))
                    self._wake.clear()
                delay = self._backoff[0]
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event fan-out cannot reach a Redis node (%r); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])

    # -- reading a node ----------------------------------------------------------------------

    async def _read_node(self, link: _NodeLink) -> None:
        try:
            await self._read(link.pubsub, lambda message: self._dispatch_node(link, message))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # connection lost: place its channels again, they catch up
            await self._lose(link, exc)

    async def _lose(self, link: _NodeLink, exc: BaseException) -> None:
        log.warning("event fan-out lost Redis node %s (%r); reconnecting", link.name, exc)
        async with self._lock:
            if self._links.get(link.name) is not link:
                return
            self.reconnects += 1
            del self._links[link.name]
            self._orphan(link, set(link.channels))
        await link.close()

    def _orphan(self, link: _NodeLink, channels: set[str]) -> None:
        """Channels `link` no longer carries: wanted ones are placed again and catch up."""
        for channel in channels:
            link.channels.discard(channel)
            if self._placed.get(channel) is link:
                del self._placed[channel]
            if channel in self._listeners:
                self._stale.add(channel)
                self._homeless.add(channel)
        self._wake.set()

    def _dispatch_node(self, link: _NodeLink, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "sunsubscribe":
            channel = _as_str(message["channel"])
            if self._placed.get(channel) is link and channel in self._listeners:
                # Not asked for: the node gave the slot away (resharding or failover).
                self._orphan(link, {channel})
            return
        plain = _KINDS.get(kind)
        if plain is not None:
            self._dispatch({**message, "type": plain})


def _as_str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
