"""Small helpers for driving the SDK in tests, typed loosely where the SDK's unions are strict."""

from __future__ import annotations

from typing import Any

from mistralai.client import models

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def results(*pairs: tuple[str, str]) -> Any:
    """`function.result` inputs for `(tool_call_id, result)` pairs."""
    return [
        models.FunctionResultEntry(tool_call_id=call_id, result=text) for call_id, text in pairs
    ]


def loose(value: Any) -> Any:
    """Pass a plain dict or list where the SDK's signature names its own models."""
    return value


def user(text: str) -> Any:
    """Chat `messages` holding one user message."""
    return [{"role": "user", "content": text}]
