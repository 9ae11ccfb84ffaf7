"""The gateway against the real session worker (services.worker), the simulator and MCP server.

The same gateway start command as the other tests, pointed at the task queue of the worker the
`session_worker` fixture runs: what a user of the local stack gets, end to end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2
import pytest
import redis.asyncio as aioredis

from services.common.bus import EventBus
from services.common.events import TERMINAL_TURN_EVENTS as TERMINAL
from services.common.sessions import BusKey
from tests.fixtures.gateway import GatewayServer
from tests.integration.gateway.sse import Frame, frames, send_streaming, text_of


@pytest.fixture
async def client(real_gateway: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=real_gateway.url,
        headers=real_gateway.headers("a"),
        timeout=httpx2.Timeout(60),
        limits=httpx2.Limits(max_connections=120),
    ) as http:
        yield http


async def read_turn(response: httpx2.Response, turn_id: str) -> list[Frame]:
    got: list[Frame] = []
    async for frame in frames(response):
        got.append(frame)
        if frame.event in TERMINAL and frame.turn_id == turn_id:
            break
    return got


async def test_a_nutrisense_turn_streams_to_the_sender_and_100_viewers(
    client: httpx2.AsyncClient,
) -> None:
    sid = (await client.post("/v1/sessions", json={"timezone": "Europe/Paris"})).json()[
        "session_id"
    ]
    viewers = 100
    subscribed = asyncio.Event()
    opened = 0

    async def watch() -> list[Frame]:
        nonlocal opened
        async with client.stream("GET", f"/v1/sessions/{sid}/events") as response:
            assert response.status_code == 200
            opened += 1
            if opened == viewers:
                subscribed.set()
            got: list[Frame] = []
            async for frame in frames(response):
                got.append(frame)
                if frame.event in TERMINAL:
                    return got
            return got

    watchers = [asyncio.create_task(watch()) for _ in range(viewers)]
    await asyncio.wait_for(subscribed.wait(), 30)
    async with send_streaming(client, sid, "I had two eggs and a banana for breakfast") as response:
        assert response.status_code == 200, await response.aread()
        turn_id = response.headers["x-turn-id"]
        sent = await read_turn(response, turn_id)
    seen = await asyncio.wait_for(asyncio.gather(*watchers), 60)
    assert sent[-1].event == "turn.completed", [f.event for f in sent]
    assert sent[-1].json["output"]
    assert text_of(sent).strip()
    for result in seen:
        assert [f.id for f in result] == [f.id for f in sent]
    status = (await client.get(f"/v1/sessions/{sid}")).json()
    assert status["turns"][0]["status"] == "completed"
    assert status["turns"][0]["output"] == sent[-1].json["output"]


async def test_resume_after_a_drop_and_tenant_isolation(
    client: httpx2.AsyncClient, real_gateway: GatewayServer
) -> None:
    sid = (await client.post("/v1/sessions")).json()["session_id"]
    sent = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "hello, who are you?"})
    assert sent.status_code == 202, sent.text
    turn_id = sent.json()["turn_id"]
    first: list[Frame] = []
    async with client.stream("GET", sent.json()["events_url"]) as response:
        async for frame in frames(response):
            first.append(frame)
            if len(first) == 2 or frame.event in TERMINAL:
                break
    async with client.stream(
        "GET",
        f"/v1/sessions/{sid}/events",
        params={"turn_id": turn_id},
        headers={"Last-Event-ID": first[-1].id or ""},
    ) as response:
        rest = [] if first[-1].event in TERMINAL else await read_turn(response, turn_id)
    async with client.stream("GET", sent.json()["events_url"]) as response:
        whole = await read_turn(response, turn_id)
    assert [f.id for f in first + rest] == [f.id for f in whole]
    other = real_gateway.headers("b")
    assert (await client.get(f"/v1/sessions/{sid}", headers=other)).status_code == 404
    assert (await client.delete(f"/v1/sessions/{sid}")).status_code in (202, 204)
    ended = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "again"})
    assert ended.status_code == 409


async def test_a_turn_whose_end_was_never_published_ends_with_it_from_the_workflow(
    client: httpx2.AsyncClient, redis_url: str
) -> None:
    """The bus lost the turn's terminal event (its log is whole without it): a stream of the
    turn asks the workflow once it goes quiet, and ends with the end the workflow recorded."""
    sid = (await client.post("/v1/sessions")).json()["session_id"]
    async with send_streaming(client, sid, "I had two eggs for breakfast") as response:
        turn_id = response.headers["x-turn-id"]
        sent = await read_turn(response, turn_id)
    end = sent[-1]
    assert end.event == "turn.completed"
    redis = aioredis.from_url(redis_url)
    bus, key = EventBus(redis), BusKey("a", sid)
    try:  # the log as if that one publish had failed
        kept = [e async for e in bus.read_after(key, None) if e.id != end.id]
        await bus.delete(key)
        for event in kept:
            await bus.publish_raw(key, event.type, event.data)
    finally:
        await redis.aclose()
    async with (
        asyncio.timeout(20),
        client.stream("GET", f"/v1/sessions/{sid}/events", params={"turn_id": turn_id}) as again,
    ):
        got = [frame async for frame in frames(again)]  # ends: the server closes
    assert [(f.event, f.data) for f in got[:-1]] == [(f.event, f.data) for f in sent[:-1]]
    assert got[-1].event == "turn.completed"
    assert got[-1].id is None  # not a bus event: a resume goes on after the last one
    assert {**got[-1].json, "ts": end.json["ts"]} == end.json
