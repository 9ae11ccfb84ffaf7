"""A small client of the public API, as a user's app would write it: HTTP + SSE, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2

from scripts.sse import TERMINAL_TURN_EVENTS as TERMINAL
from scripts.sse import aread_events


@dataclass
class SseEvent:
    id: str | None
    event: str
    data: dict[str, Any]


async def sse_events(response: httpx2.Response) -> AsyncIterator[SseEvent]:
    """Parse a text/event-stream body into events (comments and heartbeats skipped)."""
    async for raw in aread_events(response.aiter_lines()):
        yield SseEvent(raw.id, raw.event, raw.json())


@dataclass
class Turn:
    turn_id: str | None = None
    events: list[SseEvent] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [e.event for e in self.events]

    @property
    def output(self) -> str:
        done = [e for e in self.events if e.event == "turn.completed"]
        return str(done[-1].data["output"]) if done else ""

    def tool_results(self) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.event == "tool.result"]


class Api:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.http = httpx2.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx2.Timeout(60.0, connect=5.0),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def create_session(self, **body: Any) -> str:
        response = await self.http.post("/v1/sessions", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["session_id"])

    async def stream_turn(self, sid: str, text: str, **body: Any) -> Turn:
        """Send a message and read its events from the same response, to the turn's end."""
        turn = Turn()
        async with self.http.stream(
            "POST",
            f"/v1/sessions/{sid}/messages",
            json={"input": text, **body},
            headers={"Accept": "text/event-stream"},
        ) as response:
            assert response.status_code == 200, await response.aread()
            async for event in sse_events(response):
                turn.events.append(event)
                turn.turn_id = turn.turn_id or event.data.get("turn_id")
                if event.event in TERMINAL and event.data.get("turn_id") == turn.turn_id:
                    break
        return turn

    async def session(self, sid: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/sessions/{sid}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result
