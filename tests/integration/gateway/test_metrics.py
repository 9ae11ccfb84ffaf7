"""The gateway's GET /metrics: Prometheus text without an API key, summed over its gunicorn
processes; or on a port of its own; or off."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from scripts.stack import servers
from scripts.stack.processes import apoll, free_port
from services.common import metrics
from tests.fixtures.gateway import GatewayServer, start_gateway
from tests.fixtures.prometheus import scrape, value

FRESH_KEY = f"metrics-{uuid.uuid4().hex}"
OWNER_KEY = f"owner-{uuid.uuid4().hex}"  # a session and a stream, within the limit


@pytest.fixture
def limited_gateway(
    tmp_path: Path,
    temporal_server: servers.TemporalServer,
    redis_url: str,
    gateway_task_queue: str,
) -> Iterator[GatewayServer]:
    """Two gunicorn workers (so a scrape must sum processes), a tiny rate limit, and a key of
    its own (budgets live in the Redis every test shares)."""
    server = start_gateway(
        tmp_path,
        temporal=temporal_server,
        redis_url=redis_url,
        task_queue=gateway_task_queue,
        workers=2,
        env={
            "GATEWAY_RATE_LIMIT": "3",
            "GATEWAY_API_KEYS": f"{FRESH_KEY}:metrics,{OWNER_KEY}:owner",
        },
    )
    yield server
    server.stop()


async def test_metrics_need_no_key_and_sum_every_process(limited_gateway: GatewayServer) -> None:
    url = limited_gateway.url
    text = await scrape(f"{url}/metrics")
    for metric in (metrics.ACTIVE_STREAMS, metrics.FANOUT_LAG):  # labelled ones once used
        assert f"# HELP {metric.name}" in text, metric.name
    async with httpx2.AsyncClient(base_url=url, timeout=20) as http:
        headers = {"Authorization": f"Bearer {FRESH_KEY}"}
        statuses = [
            (await http.get("/v1/sessions/nope", headers=headers)).status_code for _ in range(5)
        ]
        assert statuses.count(429) == 2
        rejected = metrics.REJECTED_REQUESTS.sample
        # Whichever process answers a scrape, it counts the refusals of both.
        for _ in range(4):
            text = await scrape(f"{url}/metrics")
            assert value(text, rejected, reason="rate-limited") == 2

        owner = {"Authorization": f"Bearer {OWNER_KEY}"}
        created = await http.post("/v1/sessions", headers=owner, json={})
        assert created.status_code == 201, created.text
        path = f"/v1/sessions/{created.json()['session_id']}/events"
        async with http.stream("GET", path, headers=owner) as stream:
            assert stream.status_code == 200

            async def one_open() -> bool:
                text = await scrape(f"{url}/metrics")
                return value(text, metrics.ACTIVE_STREAMS.sample) == 1

            assert await apoll(one_open, 10)

        async def none_open() -> bool:
            text = await scrape(f"{url}/metrics")
            return value(text, metrics.ACTIVE_STREAMS.sample) == 0

        assert await apoll(none_open, 10)


async def test_metrics_on_a_port_of_their_own_or_off(
    tmp_path: Path,
    temporal_server: servers.TemporalServer,
    redis_url: str,
    gateway_task_queue: str,
) -> None:
    port = free_port()

    def gateway(name: str, env: dict[str, str]) -> GatewayServer:
        return start_gateway(
            tmp_path / name,
            temporal=temporal_server,
            redis_url=redis_url,
            task_queue=gateway_task_queue,
            workers=1,
            env=env,
        )

    apart = gateway("apart", {"GATEWAY_METRICS_PORT": str(port)})
    off = gateway("off", {"GATEWAY_METRICS": "false"})
    try:
        async with httpx2.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{apart.url}/metrics")).status_code == 404
            text = await scrape(f"http://127.0.0.1:{port}/metrics")
            assert f"# HELP {metrics.ACTIVE_STREAMS.name}" in text
            assert (await http.get(f"{off.url}/metrics")).status_code == 404
    finally:
        await asyncio.gather(asyncio.to_thread(apart.stop), asyncio.to_thread(off.stop))
