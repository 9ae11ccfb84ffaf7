"""The terminal client sends a message again, with the same key, when the gateway answers 503
or 429, after the `Retry-After` it gave."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import httpx2
import pytest

from scripts.chat import ChatClient, ChatError


def completed_turn() -> httpx2.Response:
    """The gateway's answer to a message whose turn completes at once."""
    data = json.dumps({"session_id": "s", "turn_id": "turn_1", "output": "ok", "usage": {}})
    body = f"id: 1-0\nevent: turn.completed\ndata: {data}\n\n"
    headers = {"content-type": "text/event-stream", "x-turn-id": "turn_1"}
    return httpx2.Response(200, text=body, headers=headers)


def client_of(handler: Callable[[httpx2.Request], httpx2.Response]) -> ChatClient:
    client = ChatClient("http://gateway", "key", "s", out=io.StringIO())
    client.http = httpx2.Client(base_url="http://gateway", transport=httpx2.MockTransport(handler))
    return client


def test_a_503_is_retried_with_the_same_idempotency_key(monkeypatch: pytest.MonkeyPatch) -> None:
    keys: list[str | None] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        keys.append(request.headers.get("idempotency-key"))
        if len(keys) == 1:
            problem = {"status": 503, "detail": "The session did not answer in time."}
            return httpx2.Response(503, json=problem)
        return completed_turn()

    client = client_of(handler)
    monkeypatch.setattr("scripts.chat.time.sleep", lambda _: None)
    turn = client.send("I had 2 eggs.")
    assert turn.done
    assert len(keys) == 2
    assert keys[0]
    assert keys[0] == keys[1]


def test_a_429_overloaded_waits_its_retry_after_and_keeps_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys: list[str | None] = []
    pauses: list[float] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        keys.append(request.headers.get("idempotency-key"))
        if len(keys) == 1:
            problem = {"status": 429, "type": "urn:durable-agents:problem:overloaded"}
            return httpx2.Response(429, json=problem, headers={"Retry-After": "4"})
        return completed_turn()

    client = client_of(handler)
    monkeypatch.setattr("scripts.chat.time.sleep", pauses.append)
    turn = client.send("I had 2 eggs.")
    assert turn.done
    assert keys[0] is not None
    assert keys == [keys[0], keys[0]]
    assert pauses == [4.0]


def test_other_refusals_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(400, json={"status": 400, "detail": "input is empty"})

    client = client_of(handler)
    monkeypatch.setattr("scripts.chat.time.sleep", lambda _: None)
    with pytest.raises(ChatError, match="400: input is empty"):
        client.send(" ")
