"""Injected faults for tests of the platform's retries: an error status, a cut stream, a delay.

`POST /_sim/faults` queues a fault for the next `times` requests whose path starts with `path`
(and, when given, that address `conversation_id`). The middleware applies it:

- `status`: answer at once with that status and the real API's error body (429 adds
  `Retry-After`); nothing reaches the app, so no state changes.
- `disconnect`: let the response start, then drop the connection after `after_events` SSE events
  (a JSON answer loses its body). The turn itself still completes server-side.
- `delay`: wait `delay_ms` first; on conversation turns the wait happens while the conversation
  is locked, as a slow model would hold it.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.mistral_sim.errors import ApiError

_CONVERSATION = re.compile(r"^/v1/conversations/([^/]+)")
_TURN_PATH = re.compile(r"^/v1/conversations(/[^/]+(/restart)?)?/?$")
DELAY_SCOPE_KEY = "sim.fault_delay_s"


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["status", "disconnect", "delay"]
    status: int = Field(default=429, ge=400, le=599)
    retry_after_s: float | None = Field(default=1.0, ge=0)
    after_events: int = Field(default=3, ge=0)
    delay_ms: int = Field(default=500, ge=0)
    times: int = Field(default=1, ge=1)
    path: str = "/v1/conversations"
    conversation_id: str | None = None


@dataclass
class Fault:
    id: int
    spec: FaultSpec
    remaining: int
    applied: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.spec.model_dump(),
            "remaining": self.remaining,
            "applied": self.applied,
        }

    def matches(self, path: str) -> bool:
        if not path.startswith(self.spec.path):
            return False
        if self.spec.conversation_id is None:
            return True
        found = _CONVERSATION.match(path)
        return found is not None and found.group(1) == self.spec.conversation_id


@dataclass
class FaultQueue:
    faults: list[Fault] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, spec: FaultSpec) -> Fault:
        fault = Fault(id=next(self._ids), spec=spec, remaining=spec.times)
        self.faults.append(fault)
        return fault

    def clear(self) -> int:
        count = len(self.faults)
        self.faults.clear()
        return count

    def take(self, path: str) -> Fault | None:
        """The first queued fault for this path, used up by one request."""
        for fault in self.faults:
            if fault.matches(path):
                fault.remaining -= 1
                fault.applied += 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None


class SimulatedDisconnect(Exception):
    """Raised to make the server drop the connection; the log filter in __main__ hides it."""


def _status_error(spec: FaultSpec) -> ApiError:
    headers: dict[str, str] = {}
    if spec.status == 429:
        if spec.retry_after_s is not None:
            headers["Retry-After"] = str(math.ceil(spec.retry_after_s))
        return ApiError(
            429, "Requests rate limit exceeded", type="rate_limited", code="1300", headers=headers
        )
    if spec.status >= 500:
        message = "Service unavailable" if spec.status == 503 else "Internal server error"
        return ApiError(spec.status, message, type="internal_server_error", headers=headers)
    return ApiError(spec.status, "Injected fault", headers=headers)


class FaultMiddleware:
    """Applies queued faults to /v1 requests; the admin and health routes are never faulted."""

    def __init__(self, app: ASGIApp, queue: FaultQueue) -> None:
        self.app = app
        self.queue = queue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        fault = self.queue.take(scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.spec.kind == "status":
            await _status_error(fault.spec).response()(scope, receive, send)
        elif fault.spec.kind == "delay":
            delay = fault.spec.delay_ms / 1000.0
            if scope["method"] == "POST" and _TURN_PATH.match(scope["path"]):
                scope[DELAY_SCOPE_KEY] = delay
            else:
                await asyncio.sleep(delay)
            await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, _cutting_send(send, fault.spec.after_events))


def _cutting_send(send: Send, after_events: int) -> Send:
    """A `send` that lets `after_events` SSE events through, then drops the connection.

    A JSON answer is cut after its headers: an ASGI app cannot abort before the response
    starts (the server would answer 500), and a body shorter than its length is what a dropped
    connection looks like to the client anyway.
    """
    sent = 0
    stream = False

    async def cut(message: Message) -> None:
        nonlocal sent, stream
        if message["type"] == "http.response.start":
            stream = _is_stream(message)
            await send(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        if not stream:
            raise SimulatedDisconnect("injected disconnect before the body")
        if b"data:" in bytes(message.get("body", b"")):
            if sent >= after_events:
                raise SimulatedDisconnect(f"injected disconnect after {sent} events")
            sent += 1
            await send(message)
        elif message.get("more_body", False):
            await send(message)
        else:
            raise SimulatedDisconnect(f"injected disconnect after {sent} events")

    return cut


def _is_stream(message: Message) -> bool:
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value).startswith(b"text/event-stream")
    return False
