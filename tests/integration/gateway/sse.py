"""A small SSE reader over httpx2 streaming responses, for the gateway tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2


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
    event_id: str | None = None
    event = "message"
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Frame(event_id, event, "\n".join(data))
            event_id, event, data = None, "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                event_id = value
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)


def text_of(events: list[Frame]) -> str:
    return "".join(f.json["text"] for f in events if f.event == "message.delta")
