"""What every section shares: percentiles, a lean SSE reader and a small gateway client."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2

from scripts.sse import TERMINAL_TURN_EVENTS as TERMINAL
from scripts.sse import aread_events

# Small talk: the simulator's router answers it itself (no handoff, no tool), on both paths.
PROMPT = "hi"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float], digits: int = 1) -> dict[str, Any]:
    """n, p50, p95, p99, max (None when there are no values), rounded."""

    def r(value: float | None) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "n": len(values),
        "p50": r(percentile(values, 50)),
        "p95": r(percentile(values, 95)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values) if values else None),
    }


def burst_figures(
    n: int, wall: float, ttft_ms: list[float], turn_ms: list[float], errors: list[str]
) -> dict[str, Any]:
    """What both paths of a concurrency burst report, from their completed turns' times."""
    return {
        "sessions": n,
        "turns_per_s": round(len(turn_ms) / wall, 2),
        "errors": len(errors),
        "error_samples": errors[:5],
        "ttft_ms": summary(ttft_ms),
        "turn_ms": summary(turn_ms, digits=0),
        "seconds": round(wall, 1),
        "samples": {
            "ttft_ms": [round(v, 1) for v in ttft_ms],
            "turn_ms": [round(v) for v in turn_ms],
        },
    }


def iso_epoch(ts: str) -> float:
    """Seconds since the epoch of an event's `ts` (ISO 8601, ms precision, `Z`)."""
    return datetime.fromisoformat(ts).timestamp()


@dataclass
class SseEvent:
    id: str | None
    event: str
    data: dict[str, Any]
    at: float  # perf_counter when the event's last line arrived
    wall: float  # time.time() at the same moment


async def sse_events(response: httpx2.Response) -> AsyncIterator[SseEvent]:
    """A text/event-stream body as events (comments and pings skipped), stamped on arrival."""
    async for raw in aread_events(response.aiter_lines()):
        yield SseEvent(raw.id, raw.event, raw.json(), time.perf_counter(), time.time())


@dataclass
class StreamedTurn:
    """One turn as its sender saw it: when it was sent, and every event with its arrival time."""

    started: float
    started_wall: float = field(default_factory=time.time)
    status: int = 0
    headers_at: float | None = None  # perf_counter when the response headers arrived
    events: list[SseEvent] = field(default_factory=list)
    error: str | None = None

    @property
    def deltas(self) -> list[SseEvent]:
        return [e for e in self.events if e.event == "message.delta"]

    @property
    def ttft_ms(self) -> float | None:
        deltas = self.deltas
        return (deltas[0].at - self.started) * 1000.0 if deltas else None

    def stamped(self, event_type: str) -> SseEvent | None:
        """The first event of this type (its `ts` is when the platform published it)."""
        return next((e for e in self.events if e.event == event_type and "ts" in e.data), None)

    @property
    def completed(self) -> bool:
        return any(e.event == "turn.completed" for e in self.events)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200 and self.completed


def stage_summary(turns: Sequence[StreamedTurn]) -> dict[str, Any]:
    """Where the turns' time to first token went, from the events' `ts` (ms precision):
    sending to `turn.started` (gateway, Temporal Update, workflow task, activity dispatch),
    `turn.started` to the first delta's publish (the model round trips, tools included), and
    that publish to the client (Redis, fan-out, SSE)."""
    to_started, to_delta, to_client = [], [], []
    for turn in turns:
        started, delta = turn.stamped("turn.started"), turn.stamped("message.delta")
        if started is None or delta is None:
            continue
        started_ts, delta_ts = iso_epoch(started.data["ts"]), iso_epoch(delta.data["ts"])
        to_started.append((started_ts - turn.started_wall) * 1000.0)
        to_delta.append((delta_ts - started_ts) * 1000.0)
        to_client.append((delta.wall - delta_ts) * 1000.0)
    return {
        "post_to_turn_started": summary(to_started),
        "turn_started_to_first_delta_published": summary(to_delta),
        "first_delta_published_to_client": summary(to_client),
    }


class Gateway:
    """The few gateway calls the benchmark makes, over one pooled HTTP client."""

    def __init__(self, base_url: str, api_key: str, *, max_connections: int = 1000) -> None:
        self.http = httpx2.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx2.Timeout(120.0, connect=30.0),
            limits=httpx2.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def create_session(self) -> str:
        response = await self.http.post("/v1/sessions", json={})
        if response.status_code != 201:
            raise RuntimeError(f"create session: HTTP {response.status_code} {response.text}")
        return str(response.json()["session_id"])

    async def stream_turn(self, sid: str, text: str = PROMPT) -> StreamedTurn:
        """POST a message with `Accept: text/event-stream`; read to the turn's end."""
        turn = StreamedTurn(started=time.perf_counter())
        try:
            async with self.http.stream(
                "POST",
                f"/v1/sessions/{sid}/messages",
                json={"input": text},
                headers={"Accept": "text/event-stream"},
            ) as response:
                turn.headers_at = time.perf_counter()
                turn.status = response.status_code
                if response.status_code != 200:
                    turn.error = f"HTTP {response.status_code}: {(await response.aread())[:200]!r}"
                    return turn
                async for event in sse_events(response):
                    turn.events.append(event)
                    if event.event in TERMINAL:
                        if event.event != "turn.completed":
                            turn.error = f"{event.event}: {event.data.get('error')}"
                        break
        except (httpx2.HTTPError, OSError) as exc:
            turn.error = f"{type(exc).__name__}: {exc}"
        return turn
