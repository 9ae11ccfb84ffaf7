"""Deterministic chat completions: the answer a `/v1/chat/completions` request gets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.mistral_sim import behaviour, replies, streaming, structured
from services.mistral_sim.arguments import arguments_for
from services.mistral_sim.ids import tool_call_id
from services.mistral_sim.persona import Persona
from services.mistral_sim.schemas import ChatMessage, FunctionTool


@dataclass(frozen=True)
class ChatAnswer:
    content: str
    tool_calls: list[dict[str, Any]]
    usage: dict[str, int]

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


def _tool_names(messages: list[ChatMessage]) -> dict[str, str]:
    names: dict[str, str] = {}
    for message in messages:
        for call in message.tool_calls or []:
            function = call.get("function") or {}
            names[str(call.get("id"))] = str(function.get("name", "tool"))
    return names


def _user_text(messages: list[ChatMessage]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return behaviour.text_of(message.content)
    return ""


def answer(
    persona: Persona,
    messages: list[ChatMessage],
    tools: list[FunctionTool] | None,
    tool_choice: str | dict[str, Any] | None,
    response_format: dict[str, Any] | None = None,
) -> ChatAnswer:
    """Tool calls as the tools and the input ask; any words as JSON when `response_format`
    asks for it (after the calls, as a model would)."""
    last = messages[-1]
    prompt = sum(streaming.count_tokens(behaviour.text_of(m.content)) for m in messages)
    calls: list[dict[str, Any]] = []
    if last.role == "tool":
        names = _tool_names(messages)
        trailing: list[tuple[str, str]] = []
        for message in reversed(messages):
            if message.role != "tool":
                break
            name = message.name or names.get(str(message.tool_call_id), "tool")
            trailing.insert(0, (name, behaviour.text_of(message.content)))
        content = replies.result_reply(trailing)
    else:
        text = behaviour.text_of(last.content)
        functions = [tool.function.model_dump(mode="json") for tool in tools or []]
        forced = tool_choice in ("any", "required") or isinstance(tool_choice, dict)
        if functions and tool_choice != "none" and (forced or not replies.is_small_talk(text)):
            function = behaviour.pick_function(functions, text)
            arguments = arguments_for(function, text)
            calls.append(
                {
                    "id": tool_call_id(),
                    "type": "function",
                    "function": {
                        "name": function["name"],
                        "arguments": json.dumps(arguments, ensure_ascii=False),
                    },
                    "index": 0,
                }
            )
            content = ""
        else:
            content = replies.plain_reply(persona, text)
    fmt = structured.response_format(response_format)
    if fmt is not None and not calls:
        system = [behaviour.text_of(m.content) for m in messages if m.role == "system"]
        content = structured.render(fmt, _user_text(messages), content, system)
    completion = streaming.count_tokens(content) + sum(
        streaming.count_tokens(call["function"]["arguments"]) for call in calls
    )
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    return ChatAnswer(content=content, tool_calls=calls, usage=usage)
