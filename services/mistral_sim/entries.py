"""Wire entries: inputs normalised with ids and times, planned outputs turned into entries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.mistral_sim import behaviour, schemas, streaming
from services.mistral_sim.ids import new_id, now_iso, tool_call_id

_INPUT_PREFIX = {
    "message.input": "msg",
    "message.output": "msg",
    "function.result": "fr",
    "function.call": "fc",
    "tool.execution": "tool_exec",
    "agent.handoff": "handoff",
}


def input_entries(inputs: schemas.Inputs | None) -> list[dict[str, Any]]:
    """The request's inputs as stored entries; a bare string is one user message."""
    if inputs is None:
        return []
    if isinstance(inputs, str):
        items: list[dict[str, Any]] = [
            {"type": "message.input", "role": "user", "content": inputs, "prefix": False}
        ]
    else:
        items = [entry.model_dump(mode="json", exclude_none=True) for entry in inputs]
    stamp = now_iso()
    result = []
    for item in items:
        entry = {"object": "entry", **item}
        entry.setdefault("id", new_id(_INPUT_PREFIX.get(str(entry.get("type")), "entry")))
        entry.setdefault("created_at", stamp)
        entry.setdefault("completed_at", stamp)
        result.append(entry)
    return result


def output_entry(output: behaviour.Output) -> dict[str, Any]:
    stamp = now_iso()
    common: dict[str, Any] = {"object": "entry", "created_at": stamp, "completed_at": stamp}
    if isinstance(output, behaviour.Handoff):
        return {
            **common,
            "type": "agent.handoff",
            "id": new_id("handoff"),
            "previous_agent_id": output.previous.id,
            "previous_agent_name": output.previous.name,
            "next_agent_id": output.next.id,
            "next_agent_name": output.next.name,
        }
    if isinstance(output, behaviour.FunctionCall):
        return {
            **common,
            "type": "function.call",
            "id": new_id("fc"),
            "tool_call_id": tool_call_id(),
            "name": output.name,
            "arguments": output.arguments,
            **output.persona.stamp(),
        }
    if isinstance(output, behaviour.ToolExecution):
        return {
            **common,
            "type": "tool.execution",
            "id": new_id("tool_exec"),
            "name": output.name,
            "arguments": output.arguments,
            "function": output.name,
            "info": output.info,
            **output.persona.stamp(),
        }
    return {
        **common,
        "type": "message.output",
        "id": new_id("msg"),
        "role": "assistant",
        "content": output.content,
        **output.persona.stamp(),
    }


def pending_calls(entries: Sequence[dict[str, Any]]) -> list[str]:
    """tool_call_ids of function calls that have no function.result yet, in call order."""
    answered = {e.get("tool_call_id") for e in entries if e.get("type") == "function.result"}
    return [
        str(e["tool_call_id"])
        for e in entries
        if e.get("type") == "function.call" and e.get("tool_call_id") not in answered
    ]


def entry_text(entry: dict[str, Any]) -> str:
    kind = entry.get("type")
    if kind in ("message.input", "message.output"):
        return behaviour.text_of(entry.get("content"))
    if kind == "function.result":
        return str(entry.get("result", ""))
    if kind in ("function.call", "tool.execution"):
        return str(entry.get("arguments", ""))
    return ""


def usage(
    history: Sequence[dict[str, Any]],
    inputs: Sequence[dict[str, Any]],
    outputs: Sequence[dict[str, Any]],
    instructions: str,
) -> dict[str, Any]:
    prompt = streaming.count_tokens(instructions) + sum(
        streaming.count_tokens(entry_text(entry)) for entry in [*history, *inputs]
    )
    completion = sum(streaming.count_tokens(entry_text(entry)) for entry in outputs)
    result: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    connectors: dict[str, int] = {}
    for entry in outputs:
        if entry.get("type") == "tool.execution":
            name = str(entry["name"])
            connectors[name] = connectors.get(name, 0) + 1
    if connectors:
        result["connector_tokens"] = 5 * sum(connectors.values())
        result["connectors"] = connectors
    return result
