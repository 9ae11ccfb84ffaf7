"""SSE over real HTTP: a turn streamed in the POST response, many viewers, resume, replays."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx2
import pytest
import redis.asyncio as aioredis

from scripts.stack.processes import apoll
from scripts.stack.servers import TemporalServer
from services.common.bus import EventBus, stream_key
from services.common.events import TERMINAL_TURN_EVENTS as TERMINAL
from services.common.events import MessageDelta
from services.common.sessions import BusKey
from services.gateway.auth import key_id
from tests.fixtures.gateway import GatewayServer
from tests.integration.gateway.fake_activities import LATE_GO_PREFIX
from tests.integration.gateway.sse import Frame, frames, send_streaming, text_of


@pytest.fixture
async def client(gateway_server: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=gateway_server.url,
        headers=gateway_server.headers("a"),
        timeout=httpx2.Timeout(30),
        limits=httpx2.Limits(max_connections=300, max_keepalive_connections=300),
    ) as http:
        yield http


async def new_session(client: httpx2.AsyncClient) -> str:
    response = await client.post("/v1/sessions")
    assert response.status_code == 201
    sid: str = response.json()["session_id"]
    return sid


async def read_turn(response: httpx2.Response, turn_id: str | None = None) -> list[Frame]:
    """Frames until a turn's terminal event (that turn's, when given)."""
    got: list[Frame] = []
    async for frame in frames(response):
        got.append(frame)
        if frame.event in TERMINAL and (turn_id is None or frame.turn_id == turn_id):
            break
    return got


def assert_in_order(events: list[Frame]) -> None:
    keys = [tuple(int(p) for p in (f.id or "").split("-")) for f in events]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


async def test_post_streams_the_turn_and_closes(client: httpx2.AsyncClient) -> None:
    sid = f"t-{uuid.uuid4().hex[:12]}"
    async with send_streaming(client, sid, "what is in an apple") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        turn_id = response.headers["x-turn-id"]
        events = [frame async for frame in frames(response)]  # ends: the server closes
    assert events[0].event == "turn.started"
    assert events[-1].event == "turn.completed"
    assert {f.turn_id for f in events} == {turn_id}
    assert (
        text_of(events)
        == events[-1].json["output"]
        == "NutriSense (fake) heard: what is in an apple"
    )
    assert_in_order(events)


async def test_a_hundred_viewers_get_every_event_in_order(
    client: httpx2.AsyncClient, gateway_server: GatewayServer
) -> None:
    sid = await new_session(client)
    viewers = 100
    subscribed = 0
    all_subscribed = asyncio.Event()

    async def watch() -> list[Frame]:
        nonlocal subscribed
        async with client.stream("GET", f"/v1/sessions/{sid}/events") as response:
            assert response.status_code == 200
            subscribed += 1  # headers arrive only once the listener is subscribed
            if subscribed == viewers:
                all_subscribed.set()
            return await read_turn(response)

    watchers = [asyncio.create_task(watch()) for _ in range(viewers)]
    await asyncio.wait_for(all_subscribed.wait(), 30)
    async with send_streaming(client, sid, "slow please") as response:
        reference = await read_turn(response)
    results = await asyncio.wait_for(asyncio.gather(*watchers), 60)
    assert reference[-1].event == "turn.completed"
    assert len(reference) == 42  # turn.started, 40 deltas, turn.completed
    expected = [(f.id, f.event, f.data) for f in reference]
    for result in results:
        assert [(f.id, f.event, f.data) for f in result] == expected


async def test_viewer_dropped_mid_turn_resumes_without_gap_or_duplicate(
    client: httpx2.AsyncClient,
) -> None:
    sid = await new_session(client)
    first: list[Frame] = []
    async with client.stream("GET", f"/v1/sessions/{sid}/events") as response:
        sent = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "slow"})
        turn_id = sent.json()["turn_id"]
        async for frame in frames(response):
            first.append(frame)
            if len(first) == 10:
                break  # the connection drops mid-turn
    assert first[-1].event == "message.delta"
    async with client.stream(
        "GET", f"/v1/sessions/{sid}/events", headers={"Last-Event-ID": first[-1].id or ""}
    ) as response:
        rest = await read_turn(response, turn_id)
    async with client.stream("GET", f"/v1/sessions/{sid}/events?turn_id={turn_id}") as response:
        whole = await read_turn(response, turn_id)  # the whole turn, replayed from the log
    assert [f.id for f in first + rest] == [f.id for f in whole]
    assert rest[-1].event == "turn.completed"
    assert_in_order(first + rest)


async def test_after_query_resumes_like_last_event_id(client: httpx2.AsyncClient) -> None:
    sid = f"t-{uuid.uuid4().hex[:12]}"
    async with send_streaming(client, sid, "one two three") as response:
        events = await read_turn(response)
    async with client.stream(
        "GET", f"/v1/sessions/{sid}/events", params={"after": events[2].id}
    ) as response:
        rest = await read_turn(response)
    assert [f.id for f in rest] == [f.id for f in events[3:]]


async def test_retried_streaming_message_replays_the_original_turn(
    client: httpx2.AsyncClient,
) -> None:
    sid = f"t-{uuid.uuid4().hex[:12]}"
    headers = {"Accept": "text/event-stream", "Idempotency-Key": "k-1"}
    runs = []
    for _ in range(2):
        async with client.stream(
            "POST", f"/v1/sessions/{sid}/messages", json={"input": "hello"}, headers=headers
        ) as response:
            runs.append(await read_turn(response))
    assert [f.id for f in runs[0]] == [f.id for f in runs[1]]
    assert runs[1][-1].event == "turn.completed"


def session_queries(temporal: TemporalServer) -> float:
    """How many queries the Temporal server's frontend has taken (its Prometheus counter, which
    the server brings up to date about once a second)."""
    assert temporal.metrics_port is not None
    text = httpx2.get(f"http://127.0.0.1:{temporal.metrics_port}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("service_requests{")
        and 'operation="QueryWorkflow"' in line
        and 'service_name="frontend"' in line
    )


async def test_a_new_keyed_turn_streams_without_asking_whether_it_is_over(
    client: httpx2.AsyncClient, temporal_server: TemporalServer, redis_url: str
) -> None:
    """Only a retry can be of a turn that is over: a new session's first keyed turn, whose log
    does not exist yet when the turn is accepted (like a log that is gone: the model is `late`
    until the stream has begun), streams without a query to the session."""
    before = session_queries(temporal_server)
    sid = f"t-{uuid.uuid4().hex[:12]}"
    headers = {"Accept": "text/event-stream", "Idempotency-Key": "k-new"}
    redis = aioredis.from_url(redis_url)
    try:
        async with client.stream(
            "POST", f"/v1/sessions/{sid}/messages", json={"input": "late hello"}, headers=headers
        ) as response:
            # The stream has begun (its headers are here) and no event was published yet.
            await redis.set(f"{LATE_GO_PREFIX}{sid}", 1, ex=60)
            assert (await read_turn(response))[-1].event == "turn.completed"
    finally:
        await redis.aclose()
    # One query of our own, after the turn: once the counter shows it, it shows any before it.
    assert (await client.get(f"/v1/sessions/{sid}")).status_code == 200

    async def shown() -> bool:
        return await asyncio.to_thread(session_queries, temporal_server) > before

    assert await apoll(shown, 10, interval=0.1)
    assert session_queries(temporal_server) == before + 1


@pytest.mark.parametrize("log", ["expired", "trimmed"])
async def test_retried_streaming_message_of_a_turn_whose_events_are_gone_ends(
    client: httpx2.AsyncClient, redis_url: str, log: str
) -> None:
    """The turn is over and its events left the log: the retry says so and ends, not hangs."""
    sid = f"t-{uuid.uuid4().hex[:12]}"
    headers = {"Accept": "text/event-stream", "Idempotency-Key": "k-gone"}
    async with client.stream(
        "POST", f"/v1/sessions/{sid}/messages", json={"input": "hello"}, headers=headers
    ) as response:
        first = await read_turn(response)
    assert first[-1].event == "turn.completed"
    redis = aioredis.from_url(redis_url)
    bus = EventBus(redis)
    if log == "expired":
        await bus.delete(BusKey("a", sid))
    else:  # trimmed past the turn: only a later turn's event is left
        await redis.xtrim(stream_key(BusKey("a", sid)), maxlen=0)
        later = MessageDelta(session_id=sid, turn_id="turn_later", text="x")
        await bus.publish(BusKey("a", sid), later)
    await redis.aclose()
    async with asyncio.timeout(10):
        async with client.stream(
            "POST", f"/v1/sessions/{sid}/messages", json={"input": "hello"}, headers=headers
        ) as response:
            assert response.status_code == 200
            assert response.headers["x-turn-id"] == first[0].turn_id
            again = [frame async for frame in frames(response)]  # ends: the server closes
    # What is left of the log is not this turn's; its end comes from the session's record.
    assert [frame.event for frame in again] == ["stream.gap", "turn.completed"]
    assert again[0].json["session_id"] == sid  # not the bus key, `a/<sid>`
    assert again[-1].json == {**first[-1].json, "ts": again[-1].json["ts"]}


async def test_a_finished_turns_stream_whose_events_left_the_log_ends(
    client: httpx2.AsyncClient, redis_url: str
) -> None:
    """GET /events?turn_id= of a turn that is over, with its log gone: stream.gap, then the end."""
    sid = f"t-{uuid.uuid4().hex[:12]}"
    async with send_streaming(client, sid, "hello") as response:
        first = await read_turn(response)
    turn_id = first[0].turn_id
    redis = aioredis.from_url(redis_url)
    await EventBus(redis).delete(BusKey("a", sid))
    await redis.aclose()
    async with asyncio.timeout(10):
        async with client.stream(
            "GET", f"/v1/sessions/{sid}/events", params={"turn_id": turn_id}
        ) as response:
            assert response.status_code == 200
            again = [frame async for frame in frames(response)]  # ends: the server closes
    assert [frame.event for frame in again] == ["stream.gap", "turn.completed"]
    assert again[-1].json["output"] == first[-1].json["output"]
    assert again[-1].json["usage"] == first[-1].json["usage"]


async def test_a_stream_gap_names_the_session_by_its_id_not_its_bus_key(
    client: httpx2.AsyncClient, redis_url: str
) -> None:
    """A live stream resumed after an id its log no longer holds starts with `stream.gap`, and
    the gap names its session as every event does: by the bare id, not the tenant-qualified
    key the gateway subscribes with (`a/<sid>`)."""
    sid = f"t-{uuid.uuid4().hex[:12]}"
    async with send_streaming(client, sid, "hello") as response:
        first = await read_turn(response)
    assert {frame.json["session_id"] for frame in first} == {sid}
    redis = aioredis.from_url(redis_url)
    await EventBus(redis).delete(BusKey("a", sid))  # the log expired, or Redis lost it
    await redis.aclose()
    resume = {"Last-Event-ID": first[-1].id or ""}
    async with (
        asyncio.timeout(10),
        client.stream("GET", f"/v1/sessions/{sid}/events", headers=resume) as response,
    ):
        assert response.status_code == 200
        gap = await anext(frames(response))
    assert gap.event == "stream.gap"
    assert gap.json["session_id"] == sid
    assert gap.json["after"] == first[-1].id


async def drop_the_end(redis_url: str, sid: str, end: Frame, how: str) -> None:
    """Take a finished turn's terminal event out of its log: deleted from it (the log then
    counts as trimmed), or never published (the log is rebuilt whole without it)."""
    redis = aioredis.from_url(redis_url)
    bus, key = EventBus(redis), BusKey("a", sid)
    try:
        if how == "deleted":
            assert await redis.xdel(stream_key(key), end.id or "") == 1
        else:
            kept = [e async for e in bus.read_after(key, None) if e.id != end.id]
            await bus.delete(key)
            for event in kept:
                await bus.publish_raw(key, event.type, event.data)
    finally:
        await redis.aclose()


@pytest.mark.parametrize("how", ["deleted", "never-published"])
@pytest.mark.parametrize("route", ["events", "retried-post"])
async def test_a_finished_turn_whose_end_is_not_in_the_log_ends_with_it_from_the_session(
    client: httpx2.AsyncClient, redis_url: str, route: str, how: str
) -> None:
    """The workflow is the record of truth: a stream of a turn that is over, whose terminal
    event the log does not hold, ends with that event rebuilt from the turn's record instead of
    waiting for it (`stream.gap` first where the log lost events: a deleted one)."""
    sid = f"t-{uuid.uuid4().hex[:12]}"
    headers = {"Accept": "text/event-stream", "Idempotency-Key": "k-end"}
    async with client.stream(
        "POST", f"/v1/sessions/{sid}/messages", json={"input": "hello there"}, headers=headers
    ) as response:
        first = await read_turn(response)
    turn_id, end = first[0].turn_id, first[-1]
    assert end.event == "turn.completed"
    await drop_the_end(redis_url, sid, end, how)
    if route == "events":
        request = client.stream("GET", f"/v1/sessions/{sid}/events", params={"turn_id": turn_id})
    else:
        request = client.stream(
            "POST", f"/v1/sessions/{sid}/messages", json={"input": "hello there"}, headers=headers
        )
    async with asyncio.timeout(15), request as response:
        assert response.status_code == 200
        again = [frame async for frame in frames(response)]  # ends: the server closes
    gaps = 1 if how == "deleted" else 0  # a log rebuilt whole lost nothing it had
    assert [frame.event for frame in again[:gaps]] == ["stream.gap"] * gaps
    rest = again[gaps:]
    assert [(f.event, f.data) for f in rest[:-1]] == [(f.event, f.data) for f in first[:-1]]
    assert rest[-1].event == "turn.completed"
    assert rest[-1].id is None  # not a bus event
    assert rest[-1].turn_id == turn_id
    assert rest[-1].json["output"] == end.json["output"]
    assert rest[-1].json["usage"] == end.json["usage"]


async def test_malformed_resume_id_is_400(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client)
    by_query = await client.get(f"/v1/sessions/{sid}/events", params={"after": "yesterday"})
    by_header = await client.get(f"/v1/sessions/{sid}/events", headers={"Last-Event-ID": "x-y"})
    bad_turn = await client.get(f"/v1/sessions/{sid}/events", params={"turn_id": "a/b"})
    for response in (by_query, by_header, bad_turn):
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_cancelled_turn_ends_its_stream(client: httpx2.AsyncClient) -> None:
    sid = f"t-{uuid.uuid4().hex[:12]}"
    async with send_streaming(client, sid, "hold") as response:
        turn_id = response.headers["x-turn-id"]
        got: list[Frame] = []
        async for frame in frames(response):
            got.append(frame)
            if frame.event == "message.delta" and len(got) == 3:
                cancel = await client.post(f"/v1/sessions/{sid}/turns/{turn_id}/cancel")
                assert cancel.status_code == 202
    assert got[-1].event == "turn.cancelled"


async def test_disconnected_viewers_release_their_subscription_and_slot(
    client: httpx2.AsyncClient, redis_url: str
) -> None:
    sid = await new_session(client)
    redis = aioredis.from_url(redis_url)
    channel = f"da:events:a/{sid}"
    slots = f"da:gw:streams:{key_id('test-key-tenant-a')}"

    async def subscribers() -> int:
        return int(dict(await redis.pubsub_numsub(channel))[channel.encode()])

    try:
        streams = [client.stream("GET", f"/v1/sessions/{sid}/events") for _ in range(20)]
        opened = [await stream.__aenter__() for stream in streams]
        assert all(response.status_code == 200 for response in opened)
        assert await subscribers() >= 1
        held = await redis.zcard(slots)
        assert held >= 20
        for stream in streams:
            await stream.__aexit__(None, None, None)  # the client goes away mid-stream
        async with asyncio.timeout(10):  # released as the server sees each disconnect
            while True:
                if not await subscribers() and await redis.zcard(slots) <= held - 20:
                    break
                await asyncio.sleep(0.02)
    finally:
        await redis.aclose()
