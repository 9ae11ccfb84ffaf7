"""The gateway while no worker runs the sessions (stopped, crashed, being deployed).

The real session worker runs only where a test says so, on a task queue of the module's own, so
a test can stop it and start another. Streams resume from the log with no worker at all, and a
message whose submit timed out is sent again with its Idempotency-Key and runs once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from temporalio.client import Client

from scripts.stack import servers
from services.common.events import TERMINAL_TURN_EVENTS as TERMINAL
from services.common.sessions import STATUS_QUERY, SessionStatus, workflow_id
from services.worker.settings import WorkerSettings
from services.worker.worker import build_worker
from tests.fixtures.gateway import GatewayServer, start_gateway
from tests.integration.gateway.sse import Frame, frames

# The gateway's bound on a Temporal call: a submit with no worker answers 503 this soon.
TEMPORAL_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def task_queue() -> str:
    return f"sessions-nw-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    temporal_server: servers.TemporalServer,
    redis_url: str,
    task_queue: str,
) -> Iterator[GatewayServer]:
    server = start_gateway(
        Path(tmp_path_factory.mktemp("gateway-no-worker")),
        temporal=temporal_server,
        redis_url=redis_url,
        task_queue=task_queue,
        env={"GATEWAY_TEMPORAL_TIMEOUT_S": str(TEMPORAL_TIMEOUT_S)},
        name="gateway-no-worker",
    )
    yield server
    server.stop()


@pytest.fixture
async def client(gateway: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=gateway.url, headers=gateway.headers("a"), timeout=httpx2.Timeout(60)
    ) as http:
        yield http


@pytest.fixture
def worker(
    temporal_client: Client, task_queue: str, make_settings: Callable[..., WorkerSettings]
) -> Callable[[], Any]:
    """`async with worker():` runs the real session worker on the module's task queue."""

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            settings = make_settings(graceful_shutdown_s=2)
            parts = await build_worker(settings, temporal_client, stack, task_queue=task_queue)
            async with parts.worker:
                yield

    return running


async def read_turn(response: httpx2.Response, turn_id: str) -> list[Frame]:
    got: list[Frame] = []
    async for frame in frames(response):
        got.append(frame)
        if frame.event in TERMINAL and frame.turn_id == turn_id:
            break
    return got


async def send(
    client: httpx2.AsyncClient, sid: str, text: str, key: str | None = None
) -> tuple[str, int]:
    """POST a message until the gateway accepts it, resending with the Idempotency-Key a 503
    names: the turn id, and how many 503s came first."""
    refused = 0
    async with asyncio.timeout(60):
        while True:
            headers = {"Idempotency-Key": key} if key else {}
            sent = await client.post(
                f"/v1/sessions/{sid}/messages", json={"input": text}, headers=headers
            )
            if sent.status_code == 202:
                turn_id: str = sent.json()["turn_id"]
                return turn_id, refused
            assert sent.status_code == 503, sent.text
            refused += 1
            key = sent.json()["idempotency_key"]


async def test_a_stream_resumes_from_the_log_with_no_worker_and_goes_on_live_when_one_is_back(
    client: httpx2.AsyncClient, worker: Callable[[], Any]
) -> None:
    sid = (await client.post("/v1/sessions")).json()["session_id"]
    async with worker():
        turn_id, _ = await send(client, sid, "hello, who are you?")
        async with client.stream(
            "GET", f"/v1/sessions/{sid}/events", params={"turn_id": turn_id}
        ) as response:
            first = await read_turn(response, turn_id)
    assert first[-1].event == "turn.completed"
    # No worker now: a viewer that dropped after the second event comes back.
    resume = {"Last-Event-ID": first[1].id or ""}
    async with asyncio.timeout(15):
        async with client.stream(
            "GET",
            f"/v1/sessions/{sid}/events",
            params={"turn_id": turn_id},
            headers=resume,
        ) as response:
            assert response.status_code == 200, await response.aread()
            rest = [frame async for frame in frames(response)]  # ends at the turn's end
    assert [f.id for f in rest] == [f.id for f in first[2:]]
    async with client.stream("GET", f"/v1/sessions/{sid}/events", headers=resume) as viewer:
        assert viewer.status_code == 200, await viewer.aread()
        seen = frames(viewer)
        async with asyncio.timeout(15):
            logged = [await anext(seen) for _ in first[2:]]
        assert [f.id for f in logged] == [f.id for f in first[2:]]
        # A worker is back: the same stream carries the next turn live.
        async with worker():
            second, _ = await send(client, sid, "what did I just ask?")
            live: list[Frame] = []
            async with asyncio.timeout(60):
                async for frame in seen:
                    live.append(frame)
                    if frame.event in TERMINAL and frame.turn_id == second:
                        break
    assert {f.turn_id for f in live} == {second}
    assert [f.event for f in live][-1] == "turn.completed"


async def test_a_submit_that_timed_out_names_its_turn_and_a_retry_with_the_key_runs_it_once(
    client: httpx2.AsyncClient, worker: Callable[[], Any], temporal_client: Client
) -> None:
    sid = f"t-{uuid.uuid4().hex[:12]}"
    # No worker: the Update cannot be answered in time, but the session now has it.
    timed_out = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "hello"})
    assert timed_out.status_code == 503, timed_out.text
    assert timed_out.headers["content-type"].startswith("application/problem+json")
    body = timed_out.json()
    key, turn_id = body["idempotency_key"], body["turn_id"]
    assert timed_out.headers["idempotency-key"] == key
    assert timed_out.headers["retry-after"]
    assert key in body["detail"]
    assert "may have been queued" in body["detail"]
    streamed_sid = f"t-{uuid.uuid4().hex[:12]}"
    streamed = await client.post(
        f"/v1/sessions/{streamed_sid}/messages",
        json={"input": "hello"},
        headers={"Accept": "text/event-stream"},
    )
    assert streamed.status_code == 503, streamed.text
    streamed_key, streamed_turn = streamed.json()["idempotency_key"], streamed.json()["turn_id"]
    async with worker():
        again, _ = await send(client, sid, "hello", key)
        assert again == turn_id
        async with (
            asyncio.timeout(60),
            client.stream(
                "POST",
                f"/v1/sessions/{streamed_sid}/messages",
                json={"input": "hello"},
                headers={"Accept": "text/event-stream", "Idempotency-Key": streamed_key},
            ) as response,
        ):
            assert response.status_code == 200, await response.aread()
            assert response.headers["x-turn-id"] == streamed_turn
            assert (await read_turn(response, streamed_turn))[-1].event == "turn.completed"
        async with asyncio.timeout(60):
            async with client.stream(
                "GET", f"/v1/sessions/{sid}/events", params={"turn_id": turn_id}
            ) as response:
                assert (await read_turn(response, turn_id))[-1].event == "turn.completed"
        for session, turn in ((sid, turn_id), (streamed_sid, streamed_turn)):
            handle = temporal_client.get_workflow_handle(workflow_id("a", session))
            status = await handle.query(STATUS_QUERY, result_type=SessionStatus)
            assert [(t.turn_id, t.status) for t in status.turns] == [(turn, "completed")]
