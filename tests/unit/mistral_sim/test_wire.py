"""The simulator's wire format, checked in-process at the byte level."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from services.mistral_sim.app import create_app
from services.mistral_sim.settings import SimSettings


@pytest.fixture
def api() -> Iterator[TestClient]:
    settings = SimSettings(sim_first_token_ms=0, sim_tokens_per_s=0)
    with TestClient(create_app(settings)) as client:
        yield client


def sse_blocks(body: str) -> list[dict[str, str]]:
    blocks = []
    for raw in body.split("\n\n"):
        fields: dict[str, str] = {}
        for line in raw.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = value
        if fields:
            blocks.append(fields)
    return blocks


def test_conversation_stream_framing(api: TestClient) -> None:
    response = api.post(
        "/v1/conversations",
        json={"model": "mistral-small-latest", "inputs": "Hello", "stream": True},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "x-model-deprecation-timestamp" not in response.headers
    blocks = sse_blocks(response.text)
    assert all(set(block) == {"event", "data"} for block in blocks)
    types = [json.loads(block["data"])["type"] for block in blocks]
    assert types == [block["event"] for block in blocks]
    assert types[0] == "conversation.response.started"
    assert types[-1] == "conversation.response.done"
    assert "[DONE]" not in response.text
    deltas = [json.loads(b["data"]) for b in blocks if b["event"] == "message.output.delta"]
    assert "".join(d["content"] for d in deltas).startswith("Hello!")
    assert {(d["id"], d["output_index"], d["model"]) for d in deltas} == {
        (deltas[0]["id"], 0, "mistral-small-latest")
    }


def test_chat_stream_is_data_only_and_ends_with_done(api: TestClient) -> None:
    response = api.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    blocks = sse_blocks(response.text)
    assert all(set(block) == {"data"} for block in blocks)
    assert blocks[-1]["data"] == "[DONE]"


def test_json_answers_and_deletes(api: TestClient) -> None:
    created = api.post("/v1/agents", json={"model": "m", "name": "a"})
    assert created.status_code == 200
    assert created.headers["content-type"] == "application/json"
    assert created.headers["mistral-correlation-id"]
    deleted = api.delete(f"/v1/agents/{created.json()['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""


def test_unknown_route_answers_in_the_error_shape(api: TestClient) -> None:
    response = api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["object"] == "error"


def test_metadata_sentinel_is_ignored(api: TestClient) -> None:
    api.post("/v1/agents", json={"model": "m", "name": "a", "metadata": {"k": "v"}})
    sentinel = '"~?~unset~?~sentinel~?~"'
    assert len(api.get("/v1/agents", params={"metadata": sentinel}).json()) == 1
    assert api.get("/v1/agents", params={"metadata": '{"k": "other"}'}).json() == []


def test_pacing_follows_settings() -> None:
    settings = SimSettings(sim_first_token_ms=150, sim_tokens_per_s=100)
    with TestClient(create_app(settings)) as client:
        began = time.monotonic()
        response = client.post(
            "/v1/conversations",
            json={"model": "m", "inputs": "What is 1+1?", "stream": True},
        )
        elapsed = time.monotonic() - began
    tokens = sum(1 for b in sse_blocks(response.text) if b["event"] == "message.output.delta")
    # One first-token wait, then one interval per further token.
    assert elapsed >= 0.15 + (tokens - 1) * 0.01
    assert elapsed < 2.0


def test_non_stream_store_false_is_not_kept(api: TestClient) -> None:
    response = api.post("/v1/conversations", json={"model": "m", "inputs": "hi", "store": False})
    conversation_id = response.json()["conversation_id"]
    assert api.get(f"/v1/conversations/{conversation_id}").status_code == 404


def test_bad_query_parameter_is_a_422(api: TestClient) -> None:
    response = api.get("/v1/agents", params={"page": "first"})
    assert response.status_code == 422
    assert response.json()["message"]["detail"][0]["loc"] == ["query", "page"]


def test_chat_small_talk_with_tools_answers_in_words(api: TestClient) -> None:
    tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": {}}},
    }
    body = {"model": "m", "messages": [{"role": "user", "content": "thanks!"}], "tools": [tool]}
    answer = api.post("/v1/chat/completions", json=body).json()
    assert answer["choices"][0]["finish_reason"] == "stop"
    forced = api.post("/v1/chat/completions", json={**body, "tool_choice": "any"}).json()
    assert forced["choices"][0]["finish_reason"] == "tool_calls"
