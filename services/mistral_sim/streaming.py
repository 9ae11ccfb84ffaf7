"""Conversation output entries as SSE events (reference §7), with the delay before each one.

One `output_index` per output entry; deltas repeat the entry's `id` (and `name` and
`tool_call_id` for function calls); the first event is `conversation.response.started`, the last
`conversation.response.done` with usage. The `event:` name always equals `data.type`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sse_starlette import ServerSentEvent

from services.mistral_sim.ids import now_iso

_TOKEN = re.compile(r"\s*\S+\s*|\s+")


@dataclass(frozen=True)
class Pacing:
    first_token_s: float = 0.0
    token_interval_s: float = 0.0


@dataclass(frozen=True)
class SimEvent:
    delay_s: float
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data["type"])

    def sse(self) -> ServerSentEvent:
        return ServerSentEvent(data=orjson.dumps(self.data).decode(), event=self.type, sep="\n")


def tokens(text: str) -> list[str]:
    """Word-sized pieces that join back to `text` exactly."""
    return _TOKEN.findall(text) or [text]


def _fragments(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def count_tokens(text: str) -> int:
    return max(1, round(len(tokens(text)) * 4 / 3)) if text else 0


class _Clock:
    """Hands out each event's delay: the first-token wait once, then one interval per token."""

    def __init__(self, pacing: Pacing) -> None:
        self.pacing = pacing
        self.started = False

    def next(self) -> float:
        if not self.started:
            self.started = True
            return self.pacing.first_token_s
        return self.pacing.token_interval_s


def _author(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: entry[key] for key in ("agent_id", "model") if key in entry}


def _message_events(index: int, entry: dict[str, Any], clock: _Clock) -> Iterator[SimEvent]:
    base: dict[str, Any] = {
        "type": "message.output.delta",
        "output_index": index,
        "id": entry["id"],
        "role": "assistant",
        **_author(entry),
    }
    content = entry["content"]
    chunks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    for content_index, chunk in enumerate(chunks):
        if chunk.get("type") == "text":
            for piece in tokens(str(chunk.get("text", ""))):
                # A plain string delta, as the real API streams text.
                data = {**base, "created_at": now_iso(), "content_index": content_index}
                yield SimEvent(clock.next(), {**data, "content": piece})
        else:
            data = {**base, "created_at": now_iso(), "content_index": content_index}
            yield SimEvent(clock.next(), {**data, "content": chunk})


def _function_call_events(index: int, entry: dict[str, Any], clock: _Clock) -> Iterator[SimEvent]:
    for piece in _fragments(str(entry["arguments"])):
        yield SimEvent(
            clock.next(),
            {
                "type": "function.call.delta",
                "created_at": now_iso(),
                "output_index": index,
                "id": entry["id"],
                "name": entry["name"],
                "tool_call_id": entry["tool_call_id"],
                "arguments": piece,
                **_author(entry),
            },
        )


def _tool_execution_events(index: int, entry: dict[str, Any], clock: _Clock) -> Iterator[SimEvent]:
    common = {"output_index": index, "id": entry["id"], "name": entry["name"]}
    author = _author(entry)
    yield SimEvent(
        clock.next(),
        {
            "type": "tool.execution.started",
            "created_at": now_iso(),
            **common,
            "arguments": "",
            **author,
        },
    )
    for piece in _fragments(str(entry["arguments"]), 24):
        yield SimEvent(
            clock.next(),
            {"type": "tool.execution.delta", "created_at": now_iso(), **common, "arguments": piece},
        )
    yield SimEvent(
        clock.next(),
        {
            "type": "tool.execution.done",
            "created_at": now_iso(),
            **common,
            "info": entry.get("info") or {},
        },
    )


def _handoff_events(index: int, entry: dict[str, Any], clock: _Clock) -> Iterator[SimEvent]:
    yield SimEvent(
        clock.next(),
        {
            "type": "agent.handoff.started",
            "created_at": now_iso(),
            "output_index": index,
            "id": entry["id"],
            "previous_agent_id": entry["previous_agent_id"],
            "previous_agent_name": entry["previous_agent_name"],
        },
    )
    yield SimEvent(
        0.0,
        {
            "type": "agent.handoff.done",
            "created_at": now_iso(),
            "output_index": index,
            "id": entry["id"],
            "next_agent_id": entry["next_agent_id"],
            "next_agent_name": entry["next_agent_name"],
        },
    )


_BY_TYPE = {
    "message.output": _message_events,
    "function.call": _function_call_events,
    "tool.execution": _tool_execution_events,
    "agent.handoff": _handoff_events,
}


def conversation_events(
    conversation_id: str,
    outputs: list[dict[str, Any]],
    usage: dict[str, Any],
    pacing: Pacing,
) -> list[SimEvent]:
    clock = _Clock(pacing)
    events = [
        SimEvent(
            0.0,
            {
                "type": "conversation.response.started",
                "created_at": now_iso(),
                "conversation_id": conversation_id,
            },
        )
    ]
    for index, entry in enumerate(outputs):
        events.extend(_BY_TYPE[entry["type"]](index, entry, clock))
    events.append(
        SimEvent(
            0.0, {"type": "conversation.response.done", "created_at": now_iso(), "usage": usage}
        )
    )
    return events


def error_event(message: str, code: int) -> SimEvent:
    """A mid-stream failure, the way the real API reports one (reference §7.5)."""
    return SimEvent(
        0.0,
        {
            "type": "conversation.response.error",
            "created_at": now_iso(),
            "message": message,
            "code": code,
        },
    )
