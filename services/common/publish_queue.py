"""Publishes from every task of a process, sent to Redis together: one pipeline per round trip.

A worker streams ~80 events a turn for each of its sessions at once. Sent as one command per
round trip, a publish costs ~110 us of the client's CPU (redis-py's pool, a socket write, a
read, the reply) and wakes Redis once; in a pipeline of 25 it costs ~25 us (measured here on
plain Redis: docs/benchmarks.md). So a publish waits for at most the one pipeline already on
the wire and goes out with whatever else queued meanwhile, from any session: an idle process
sends each publish at once (the next turn of the event loop), a busy one pays one round trip
per batch. The delay is bounded by one round trip, the same bound a session's own deltas
already had (services/worker/delivery.py).

A caller's commands go out in order and together, so a session's events keep their order;
each caller gets its own replies or its own error. A caller cancelled before its batch leaves
sends nothing, as an unqueued command would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from opentelemetry.instrumentation.utils import suppress_instrumentation
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

# One run of a Lua script: its keys and its arguments.
ScriptCall = tuple[Sequence[str], Sequence[str | int]]


@dataclass(slots=True)
class _Waiting:
    calls: Sequence[ScriptCall]
    replies: asyncio.Future[list[Any]]


class PublishQueue:
    """Runs one Lua script for every caller of a process, batched into shared pipelines."""

    def __init__(self, redis: aioredis.Redis, script: AsyncScript) -> None:
        self._redis = redis
        self._script = script  # registered: its text and its sha
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[_Waiting] = []
        self._sender: asyncio.Task[None] | None = None

    async def run(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """The script's replies to `calls`, in order; raises what the first failed one raised."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A process keeps one loop; a test suite may start several. The old one's batch
            # went with it.
            self._loop, self._waiting, self._sender = loop, [], None
        waiting = _Waiting(calls, loop.create_future())
        self._waiting.append(waiting)
        if self._sender is None or self._sender.done():
            self._sender = loop.create_task(self._send_waiting(), name="bus-publish-queue")
        return await waiting.replies

    async def _send_waiting(self) -> None:
        # One pipeline can carry many sessions' events: no caller's trace may hold its span
        # (EventBus sends a traced caller's publish on its own).
        with suppress_instrumentation():
            try:
                while self._waiting:
                    batch = [w for w in self._waiting if not w.replies.done()]
                    self._waiting = []
                    if batch:
                        await self._send(batch)
            except asyncio.CancelledError:
                # The loop is shutting down: whoever still waits is cancelled, not left hanging.
                for waiting in self._waiting:
                    waiting.replies.cancel()
                raise

    async def _send(self, batch: list[_Waiting]) -> None:
        calls = [call for waiting in batch for call in waiting.calls]
        try:
            replies = await self._pipeline(calls)
            if any(isinstance(reply, NoScriptError) for reply in replies):
                # Redis restarted (or flushed its scripts): load it and send again only what
                # did not run, in order.
                await self._redis.script_load(self._script.script)
                again = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
                for i, reply in zip(
                    again, await self._pipeline([calls[i] for i in again]), strict=True
                ):
                    replies[i] = reply
        except asyncio.CancelledError:
            for waiting in batch:
                waiting.replies.cancel()
            raise
        except Exception as exc:  # the connection or Redis failed the whole batch
            for waiting in batch:
                if not waiting.replies.done():
                    waiting.replies.set_exception(exc)
            return
        start = 0
        for waiting in batch:
            own = replies[start : start + len(waiting.calls)]
            start += len(waiting.calls)
            if waiting.replies.done():
                continue
            error = next((reply for reply in own if isinstance(reply, ResponseError)), None)
            if error is not None:
                waiting.replies.set_exception(error)
            else:
                waiting.replies.set_result(own)

    async def _pipeline(self, calls: Sequence[ScriptCall]) -> list[Any]:
        if len(calls) == 1:  # alone (an idle process): a plain command costs less than a pipeline
            keys, args = calls[0]
            try:
                return [await self._redis.evalsha(self._script.sha, len(keys), *keys, *args)]
            except ResponseError as exc:
                return [exc]
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                pipe.evalsha(self._script.sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))
