"""A small SSE reader over httpx2 streaming responses, for the gateway tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2

from scripts.sse import aread_events


@dataclass(frozen=True)
class Frame:
    id: str | None
    event: str
    data: str

    @property
    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.data)
        return value

    @property
    def turn_id(self) -> str | None:
        return self.json.get("turn_id")


async def frames(response: httpx2.Response) -> AsyncIterator[Frame]:
    """The events of an SSE response (comments, e.g. pings, skipped)."""
    async for raw in aread_events(response.aiter_lines()):
        yield Frame(raw.id, raw.event, raw.data)


def text_of(events: list[Frame]) -> str:
    return "".join(f.json["text"] for f in events if f.event == "message.delta")


def send_streaming(
    client: httpx2.AsyncClient, sid: str, text: str
) -> contextlib.AbstractAsyncContextManager[httpx2.Response]:
    """POST a message asking for its turn's events in the same response."""
    return client.stream(
        "POST",
        f"/v1/sessions/{sid}/messages",
        json={"input": text},
        headers={"Accept": "text/event-stream"},
    )
