"""`GET /v1/sessions/{sid}/turns` and the list's titles, against the real session worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from tests.fixtures.gateway import GatewayServer
from tests.integration.gateway.test_sessions import assert_problem

TURNS = [
    ("Set my calorie goal to 2000 calories, 100g protein.", "goal_setting"),
    ("Log the food for breakfast - I had 2 eggs and 1 cup of coffee.", "food_log"),
]


@pytest.fixture
async def client(real_gateway: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=real_gateway.url, headers=real_gateway.headers("a"), timeout=60
    ) as http:
        yield http


async def finished(client: httpx2.AsyncClient, sid: str, count: int) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            body: dict[str, Any] = (await client.get(f"/v1/sessions/{sid}/turns")).json()
            done = [t for t in body["turns"] if t["status"] == "completed"]
            if len(done) == count:
                return body
            await asyncio.sleep(0.05)


async def test_the_transcript_rebuilds_the_conversation_a_page_at_a_time(
    client: httpx2.AsyncClient, real_gateway: GatewayServer
) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    sid = (await client.post("/v1/sessions", json={"user_id": user})).json()["session_id"]
    turn_ids = []
    for text, _ in TURNS:
        response = await client.post(f"/v1/sessions/{sid}/messages", json={"input": text})
        assert response.status_code == 202, response.text
        turn_ids.append(response.json()["turn_id"])
    body = await finished(client, sid, len(TURNS))
    assert body["next_before"] is None
    assert [t["turn_id"] for t in body["turns"]] == turn_ids
    for turn, (text, tool) in zip(body["turns"], TURNS, strict=True):
        assert turn["input"] == text
        assert turn["output"]
        assert turn["agent"]
        assert turn["error"] is None
        assert turn["created_at"]
        assert turn["completed_at"]
        [call] = turn["tool_calls"]
        assert call["name"] == tool
        assert isinstance(call["arguments"], dict)
        assert call["result"]
        assert call["error"] is None
    newest = (await client.get(f"/v1/sessions/{sid}/turns", params={"limit": 1})).json()
    assert [t["turn_id"] for t in newest["turns"]] == turn_ids[1:]
    older = await client.get(
        f"/v1/sessions/{sid}/turns", params={"limit": 1, "before": newest["next_before"]}
    )
    assert [t["turn_id"] for t in older.json()["turns"]] == turn_ids[:1]
    assert older.json()["next_before"] is None
    # The session's turn records say the same, inputs and tool calls included.
    status = (await client.get(f"/v1/sessions/{sid}")).json()
    assert [t["input"] for t in status["turns"]] == [text for text, _ in TURNS]
    assert [t["tool_calls"] for t in status["turns"]] == [t["tool_calls"] for t in body["turns"]]
    # The workflow titled the session with its first message.
    async with asyncio.timeout(20):
        while True:
            [session] = (await client.get("/v1/sessions", params={"user_id": user})).json()[
                "sessions"
            ] or [None]
            if session is not None and session["title"] is not None:
                break
            await asyncio.sleep(0.05)
    assert session["title"] == TURNS[0][0]
    async with httpx2.AsyncClient(
        base_url=real_gateway.url, headers=real_gateway.headers("b")
    ) as other:
        assert_problem(await other.get(f"/v1/sessions/{sid}/turns"), 404, "session-not-found")


@pytest.mark.parametrize(
    ("params", "slug"),
    [
        ({"limit": "0"}, "invalid-limit"),
        ({"limit": "101"}, "invalid-limit"),
        ({"limit": "-1"}, "invalid-limit"),
        ({"before": "no spaces"}, "invalid-before"),
    ],
)
async def test_bad_transcript_parameters_are_422(
    client: httpx2.AsyncClient, params: dict[str, str], slug: str
) -> None:
    assert_problem(await client.get("/v1/sessions/nobody/turns", params=params), 422, slug)


async def test_an_unknown_session_has_no_transcript(client: httpx2.AsyncClient) -> None:
    assert_problem(await client.get("/v1/sessions/nobody-here/turns"), 404, "session-not-found")
