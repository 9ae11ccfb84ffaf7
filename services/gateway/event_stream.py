"""The SSE response the gateway streams events with: sse-starlette's, with a cheaper write deadline.

sse-starlette bounds every write with an anyio cancel scope, which arms and disarms a timer each
time (7-10 us a write, measured on a 2-core VM). A gateway process serving hundreds of viewers
writes tens of thousands of chunks a second and almost none of them wait: uvicorn only holds a
write back when the client's socket buffer is full. Here a write just notes when it began; one
watchdog per event loop looks at the open streams once a tick and cuts a write that has waited
longer than its response's `send_timeout` with the same SendTimeoutError, so a client that stops
reading still loses its stream (and frees its slot), at most one tick late.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from sse_starlette import EventSourceResponse
from sse_starlette.sse import SendTimeoutError
from starlette.types import Message, Receive, Scope, Send

__all__ = ["EventStreamResponse", "SendTimeoutError"]

# How often the watchdog looks; a stalled write is cut between send_timeout and this much later.
TICK_S = 1.0


class EventStreamResponse(EventSourceResponse):
    """An EventSourceResponse whose writes are timed by the loop's watchdog, not a timer each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The writes in progress and when each began: the stream's and the pings' tasks write.
        self._writes: dict[asyncio.Task[Any], float] = {}
        self._cut: set[asyncio.Task[Any]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watchdog = _watchdog()
        watchdog.watch(self)
        try:
            await super().__call__(scope, receive, send)
        finally:
            watchdog.forget(self)

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        task = asyncio.current_task()
        if self.send_timeout is None or task is None:
            await send(message)
            return
        cancelling = task.cancelling()
        self._writes[task] = asyncio.get_running_loop().time()
        try:
            await send(message)
        except asyncio.CancelledError:
            # Only the watchdog's own cancel becomes a timeout; any other is passed on.
            if task in self._cut and task.uncancel() <= cancelling:
                raise SendTimeoutError() from None
            raise
        finally:
            del self._writes[task]
            self._cut.discard(task)

    def expire_late_writes(self, now: float) -> None:
        """Cut each write in progress that began more than `send_timeout` before `now`."""
        if self.send_timeout is None:
            return
        for task, began in list(self._writes.items()):
            if now - began > self.send_timeout and task not in self._cut:
                self._cut.add(task)
                task.cancel()


class _Watchdog:
    """The open streams of one event loop, looked at once a tick while there are any."""

    def __init__(self) -> None:
        self._responses: set[EventStreamResponse] = set()
        self._task: asyncio.Task[None] | None = None

    def watch(self, response: EventStreamResponse) -> None:
        self._responses.add(response)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="sse-write-watchdog")

    def forget(self, response: EventStreamResponse) -> None:
        self._responses.discard(response)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._responses:
            await asyncio.sleep(TICK_S)
            now = loop.time()
            for response in list(self._responses):
                response.expire_late_writes(now)


_watchdogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = (
    weakref.WeakKeyDictionary()
)


def _watchdog() -> _Watchdog:
    loop = asyncio.get_running_loop()
    watchdog = _watchdogs.get(loop)
    if watchdog is None:
        watchdog = _watchdogs[loop] = _Watchdog()
    return watchdog
