"""The gateway on a Redis Cluster (`REDIS_CLUSTER=true`): turns of sessions whose keys live on
different nodes stream over real HTTP, a viewer gets them live over sharded pub/sub, and a
client resuming with `Last-Event-ID` gets the rest, each event once and in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
from redis.asyncio.cluster import RedisCluster
from temporalio.client import Client

from scripts.stack import servers
from services.common.bus import EventBus
from services.common.events import TERMINAL_TURN_EVENTS as TERMINAL
from services.common.redis_client import redis_client
from services.common.sessions import BusKey
from services.common.settings import RedisSettings
from tests.fixtures.gateway import GatewayServer, start_gateway
from tests.fixtures.redis_cluster import RedisClusterNodes
from tests.integration.gateway.fake_activities import scripted_session_worker
from tests.integration.gateway.sse import Frame, frames, send_streaming, text_of


@pytest.fixture(scope="module")
async def cluster_worker(
    temporal_client: Client, redis_cluster: RedisClusterNodes
) -> AsyncIterator[tuple[str, RedisCluster]]:
    """The scripted session worker publishing to the cluster: (task queue, its cluster client)."""
    task_queue = f"gateway-cluster-{uuid.uuid4().hex[:8]}"
    client = redis_client(RedisSettings(redis_url=redis_cluster.url, redis_cluster=True))
    assert isinstance(client, RedisCluster)
    bus = EventBus(client, maxlen=10_000, ttl_s=600)
    async with scripted_session_worker(temporal_client, bus, task_queue):
        yield task_queue, client
    await client.aclose()


@pytest.fixture(scope="module")
def cluster_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    temporal_server: servers.TemporalServer,
    redis_cluster: RedisClusterNodes,
    cluster_worker: tuple[str, RedisCluster],
) -> Iterator[GatewayServer]:
    server = start_gateway(
        tmp_path_factory.mktemp("gateway-cluster"),
        temporal=temporal_server,
        redis_url=redis_cluster.url,
        task_queue=cluster_worker[0],
        workers=1,
        env={"REDIS_CLUSTER": "true"},
        name="gateway-cluster",
    )
    yield server
    server.stop()


@pytest.fixture
async def client(cluster_gateway: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=cluster_gateway.url,
        headers=cluster_gateway.headers("a"),
        timeout=httpx2.Timeout(30),
    ) as http:
        yield http


async def sessions_on_every_node(
    client: httpx2.AsyncClient, cluster: RedisCluster, bus: EventBus
) -> list[str]:
    """New sessions until one's keys live on each of the three nodes."""
    found: dict[str, str] = {}
    for _ in range(60):
        response = await client.post("/v1/sessions")
        assert response.status_code == 201
        sid: str = response.json()["session_id"]
        node = cluster.get_node_from_key(bus.stream_key(BusKey("a", sid)))
        assert node is not None
        found.setdefault(node.name, sid)
        if len(found) == 3:
            return list(found.values())
    raise AssertionError(f"sessions on only {len(found)} nodes")


async def read_turn(response: httpx2.Response) -> list[Frame]:
    got: list[Frame] = []
    async for frame in frames(response):
        got.append(frame)
        if frame.event in TERMINAL:
            break
    return got


async def view_one_turn(client: httpx2.AsyncClient, sid: str, ready: asyncio.Event) -> list[Frame]:
    async with client.stream("GET", f"/v1/sessions/{sid}/events") as response:
        assert response.status_code == 200
        ready.set()  # headers sent: the gateway is subscribed
        return await read_turn(response)


async def test_turns_stream_live_and_resume_on_every_node(
    client: httpx2.AsyncClient, cluster_worker: tuple[str, RedisCluster]
) -> None:
    cluster = cluster_worker[1]
    await cluster.initialize()
    bus = EventBus(cluster)
    for sid in await sessions_on_every_node(client, cluster, bus):
        ready = asyncio.Event()
        viewer = asyncio.create_task(view_one_turn(client, sid, ready))
        await asyncio.wait_for(ready.wait(), 30)
        async with send_streaming(client, sid, "what is in an apple") as response:
            assert response.status_code == 200
            posted = [frame async for frame in frames(response)]
        assert posted[-1].event == "turn.completed"
        assert text_of(posted) == "NutriSense (fake) heard: what is in an apple"
        viewed = await asyncio.wait_for(viewer, 30)
        assert [f.id for f in viewed] == [f.id for f in posted]  # live, once, in order

        middle = posted[len(posted) // 2]
        path = f"/v1/sessions/{sid}/events"
        async with client.stream("GET", path, headers={"Last-Event-ID": middle.id or ""}) as rest:
            assert rest.status_code == 200
            resumed = await read_turn(rest)
        assert [f.id for f in resumed] == [f.id for f in posted[len(posted) // 2 + 1 :]]
