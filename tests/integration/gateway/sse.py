"""A small SSE reader over httpx2 streaming responses, for the gateway tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2

from scripts.sse import SseDecoder


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
    decoder = SseDecoder()
    async for line in response.aiter_lines():
        raw = decoder.feed(line)
        if raw is not None:
            yield Frame(raw.id, raw.event, raw.data)


def text_of(events: list[Frame]) -> str:
    return "".join(f.json["text"] for f in events if f.event == "message.delta")
