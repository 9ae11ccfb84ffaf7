"""Per-key rate limits and stream limits in Redis, and a clean close of streams on shutdown."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest

from scripts.stack import servers
from tests.fixtures.gateway import GatewayServer, start_gateway
from tests.integration.gateway.sse import frames


@pytest.fixture
def small_gateway(
    tmp_path: Path,
    temporal_server: servers.TemporalServer,
    redis_url: str,
    gateway_task_queue: str,
) -> Iterator[GatewayServer]:
    """A one-worker gateway with tiny limits, of this test's own."""
    server = start_gateway(
        tmp_path,
        temporal=temporal_server,
        redis_url=redis_url,
        task_queue=gateway_task_queue,
        workers=1,
        env={"GATEWAY_RATE_LIMIT": "12", "GATEWAY_MAX_STREAMS": "2"},
    )
    yield server
    server.stop()


@pytest.fixture
async def client(small_gateway: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=small_gateway.url, timeout=20) as http:
        yield http


async def test_requests_over_the_limit_get_429_with_retry_after(
    client: httpx2.AsyncClient, small_gateway: GatewayServer
) -> None:
    a, b = small_gateway.headers("c"), small_gateway.headers("d")
    statuses = [(await client.get("/v1/sessions/nope", headers=a)).status_code for _ in range(14)]
    assert statuses[:12] == [404] * 12
    assert statuses[12:] == [429, 429]
    limited = await client.get("/v1/sessions/nope", headers=a)
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["ratelimit-remaining"] == "0"
    # Another key has its own budget; health checks have none.
    assert (await client.get("/v1/sessions/nope", headers=b)).status_code == 404
    assert (await client.get("/healthz")).status_code == 200


async def test_streams_over_the_limit_get_429_until_one_closes(
    client: httpx2.AsyncClient, small_gateway: GatewayServer
) -> None:
    headers = small_gateway.headers("d")
    sid = (await client.post("/v1/sessions", headers=headers)).json()["session_id"]
    url = f"/v1/sessions/{sid}/events"
    async with client.stream("GET", url, headers=headers) as first:
        assert first.status_code == 200
        async with client.stream("GET", url, headers=headers) as second:
            assert second.status_code == 200
            third = await client.get(url, headers=headers)
            assert third.status_code == 429
            assert third.json()["type"].endswith("too-many-streams")
            assert int(third.headers["retry-after"]) >= 1
    # Both closed: their slots come back (released as the server sees the disconnect).
    async with asyncio.timeout(10):
        while True:
            async with client.stream("GET", url, headers=headers) as again:
                if again.status_code == 200:
                    break
            await asyncio.sleep(0.05)


async def test_shutdown_closes_open_streams_promptly(
    client: httpx2.AsyncClient, small_gateway: GatewayServer
) -> None:
    headers = small_gateway.headers("dev")
    sid = (await client.post("/v1/sessions", headers=headers)).json()["session_id"]
    async with client.stream("GET", f"/v1/sessions/{sid}/events", headers=headers) as stream:
        assert stream.status_code == 200
        started = time.monotonic()
        small_gateway.process.signal(signal.SIGTERM)
        assert [frame async for frame in frames(stream)] == []  # the server ends the stream
        closed_after = time.monotonic() - started
    assert small_gateway.process.proc is not None
    code = await asyncio.to_thread(small_gateway.process.proc.wait, 20)
    exited_after = time.monotonic() - started
    assert code == 0
    # Well inside the graceful timeout (10 s here): streams do not hold the shutdown up.
    assert closed_after < 5
    assert exited_after < 8
