"""The SDK's serializers give the same results through the class cache, with one class per type."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from mistralai.client import models as m
from mistralai.client.utils import serializers

from services.worker import sdk_models


def marshal(value: Any, body_type: Any) -> str:
    result: str = serializers.marshal_json(value, body_type)  # type: ignore[no-untyped-call]
    return result


def entries() -> list[Any]:
    return [
        m.FunctionResultEntry(tool_call_id="call_1", result='{"ok": true}'),
        m.MessageInputEntry(role="user", content="How is my progress today?"),
    ]


def test_the_cache_serializes_exactly_as_the_sdk_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(vars(serializers), "create_model", pydantic.create_model)  # the SDK's own
    body_type = m.ConversationAppendStreamRequest
    body = body_type(inputs=entries(), stream=True)
    plain = marshal(body, body_type)
    parsed_plain = serializers.unmarshal({"inputs": "hi", "stream": True}, body_type)
    sdk_models.install()
    assert marshal(body, body_type) == plain
    assert serializers.unmarshal({"inputs": "hi", "stream": True}, body_type) == parsed_plain


def test_one_class_per_body_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(vars(serializers), "create_model", pydantic.create_model)
    sdk_models.install()
    made: list[type] = []
    original = sdk_models._original

    def counting(name: str, /, **fields: Any) -> Any:
        made.append(original(name, **fields))
        return made[-1]

    monkeypatch.setattr(sdk_models, "_original", counting)
    monkeypatch.setattr(sdk_models, "_made", {})
    for _ in range(5):
        marshal(m.ConversationAppendStreamRequest(inputs="hi"), m.ConversationAppendStreamRequest)
        marshal(m.MessageInputEntry(role="user", content="x"), m.MessageInputEntry)
    assert len(made) == 2
