"""The services on a real three-master Redis Cluster (`REDIS_CLUSTER=true`): the replay log and
live delivery over sharded pub/sub for sessions on every node, a resume from an id, the
gateway's limits and the team catalog, a node restart and a slot moved to another node (what
was published meanwhile comes back from the log), a password and TLS reaching every node, and
the settings that cannot work stopping a service with one line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from scripts.stack.processes import apoll
from services.common.bus import BusEvent, EventBus, RawPublish
from services.common.events import MessageDelta
from services.common.redis_client import check_redis, describe, ping, redis_client
from services.common.sessions import BusKey
from services.common.settings import ConfigError, RedisSettings
from services.common.teams import TeamInfo, publish_teams, read_teams
from services.gateway.cluster_fanout import ClusterFanout
from services.gateway.ratelimit import RequestLimiter, StreamSlots
from tests.fixtures.redis_cluster import RedisClusterNodes
from tests.fixtures.tls import Pki
from tests.integration.gateway.listening import take, text_of

HEALTH_CHECK_S = 1.0


@pytest.fixture
async def cluster(redis_cluster: RedisClusterNodes) -> AsyncIterator[RedisCluster]:
    client = redis_client(RedisSettings(redis_url=redis_cluster.url, redis_cluster=True))
    assert isinstance(client, RedisCluster)
    await client.initialize()
    yield client
    await client.aclose()


@pytest.fixture
async def fanout(cluster: RedisCluster) -> AsyncIterator[ClusterFanout]:
    fanout = ClusterFanout(
        cluster, EventBus(cluster), health_check_s=HEALTH_CHECK_S, reconnect_backoff_s=(0.05, 0.2)
    )
    await fanout.start()
    yield fanout
    await fanout.close()


def sessions_per_node(cluster: RedisCluster, bus: EventBus, tag: str) -> dict[str, BusKey]:
    """One session whose keys live on each node: node name -> its bus key."""
    found: dict[str, BusKey] = {}
    for n in range(1000):
        key = BusKey("t", f"{tag}_{n}")
        node = cluster.get_node_from_key(bus.stream_key(key))
        assert node is not None
        found.setdefault(node.name, key)
        if len(found) == 3:
            return found
    raise AssertionError(f"sessions on only {len(found)} nodes")


def delta(key: BusKey, text: str) -> MessageDelta:
    return MessageDelta(session_id=key.session_id, turn_id="turn_1", text=text)


def texts(events: list[BusEvent]) -> list[str]:
    return [text_of(event) for event in events]


async def test_log_and_live_delivery_for_sessions_on_every_node(
    cluster: RedisCluster, fanout: ClusterFanout
) -> None:
    bus = fanout.bus
    sessions = sessions_per_node(cluster, bus, "live")
    sessions_list = list(sessions.values())
    async with (
        fanout.listen(sessions_list[0]) as first,
        fanout.listen(sessions_list[1]) as second,
        fanout.listen(sessions_list[2]) as third,
    ):
        assert fanout.node_count == 3  # one sharded pub/sub connection per node
        for key in sessions_list:
            await bus.publish(key, delta(key, "a"))
            # A step's batch, one round trip to the session's node, with a once key ...
            batch = [RawPublish.of(delta(key, t)) for t in "bc"]
            await bus.publish_batch(key, [*batch, RawPublish.of(delta(key, "d"), once="x")])
            # ... that a retried activity's repeat does not publish again.
            await bus.publish(key, delta(key, "d"), once="x")
        for sub in (first, second, third):
            assert texts(await take(sub, 4)) == ["a", "b", "c", "d"]
    assert fanout.node_count == 0  # the last listener of a node frees its connection
    for key in sessions_list:
        assert texts([e async for e in bus.read_after(key, None)]) == ["a", "b", "c", "d"]
        # The session's keys share one hash tag, so the publish script's keys share a slot.
        assert await cluster.exists(f"da:events:{{{key}}}") == 1
        assert await cluster.exists(f"da:once:{{{key}}}:x") == 1
        await bus.delete(key)


async def test_a_resume_from_an_id_backfills_then_goes_live(
    cluster: RedisCluster, fanout: ClusterFanout
) -> None:
    bus = fanout.bus
    for key in sessions_per_node(cluster, bus, "resume").values():
        ids = [await bus.publish(key, delta(key, text)) for text in "abcde"]
        async with fanout.listen(key, after=ids[1]) as sub:  # a Last-Event-ID
            assert texts(await take(sub, 3)) == ["c", "d", "e"]
            await bus.publish(key, delta(key, "f"))
            (live,) = await take(sub, 1)
            assert texts([live]) == ["f"]
            assert sub.live
        await bus.delete(key)


async def test_the_gateway_limits_hold_on_a_cluster(cluster: RedisCluster) -> None:
    limiter = RequestLimiter(cluster, limit=2)
    slots = StreamSlots(cluster, limit=1)
    for key_id in ("key-a", "key-b", "key-c", "key-d"):  # keys on several nodes
        assert [(await limiter.hit(key_id)).allowed for _ in range(3)] == [True, True, False]
        token = await slots.acquire(key_id)
        assert token is not None
        assert await slots.acquire(key_id) is None
        await slots.release(key_id, token)
        assert await slots.acquire(key_id) is not None


async def test_the_team_catalog_on_a_cluster(cluster: RedisCluster) -> None:
    def team(name: str) -> TeamInfo:
        return TeamInfo(
            name=name,
            description="d",
            entry="a",
            version="1",
            agents=[],
            tools=[],
            mcp_servers=[],
            tools_listed=True,
        )

    await publish_teams(cluster, [team("one"), team("two")])
    await publish_teams(cluster, [team("three")])  # another worker's teams join the list
    assert [t.name for t in await read_teams(cluster)] == ["one", "three", "two"]


async def publish_retrying(bus: EventBus, key: BusKey, text: str) -> str:
    """Publish one delta, retrying while the session's node comes back (bounded)."""
    for _ in range(500):
        try:
            return await bus.publish(key, delta(key, text))
        except (RedisError, OSError):
            await asyncio.sleep(0.02)
    raise AssertionError("the node did not come back")


async def test_a_node_restart_costs_latency_not_events(
    redis_cluster: RedisClusterNodes, cluster: RedisCluster, fanout: ClusterFanout
) -> None:
    bus = fanout.bus
    sessions = sessions_per_node(cluster, bus, "restart")
    node, far = sorted(sessions)[:2]
    index = redis_cluster.ports.index(int(node.rpartition(":")[2]))
    key, other = sessions[node], sessions[far]
    async with fanout.listen(key) as sub, fanout.listen(other) as elsewhere:
        await bus.publish(key, delta(key, "before"))
        assert texts(await take(sub, 1)) == ["before"]
        redis_cluster.stop(index)
        # The other nodes go on serving their sessions meanwhile, and a gateway stays ready.
        await ping(cluster)
        await publish_retrying(bus, other, "meanwhile")
        assert texts(await take(elsewhere, 1)) == ["meanwhile"]
        assert await apoll(lambda: _waiting(fanout, bus.channel(key)), 10)
        redis_cluster.start(index)
        # Published with the node back but before the fan-out subscribes there again (it
        # cannot while the lock is held): never delivered live, they come from the log.
        async with fanout._lock:
            for text in ("after-1", "after-2"):
                await publish_retrying(bus, key, text)
        got = [(texts([event])[0], sub.live) for event in await take(sub, 2)]
        assert got == [("after-1", False), ("after-2", False)]
        assert fanout.reconnects >= 1
        await bus.publish(key, delta(key, "live"))
        assert texts(await take(sub, 1)) == ["live"]
        assert sub.live
    await bus.delete(key)
    await bus.delete(other)


async def _waiting(fanout: ClusterFanout, channel: str) -> bool:
    return channel in fanout._homeless


async def test_settings_that_cannot_work_are_one_line(
    redis_cluster: RedisClusterNodes, redis_url: str
) -> None:
    settings = RedisSettings(redis_url=redis_cluster.url, redis_cluster=True)
    assert describe(settings) == f"cluster at 127.0.0.1:{redis_cluster.ports[0]}"
    client = redis_client(settings)
    await check_redis(client, settings)  # a working cluster passes
    await client.aclose()
    for wrong, message in (
        (RedisSettings(redis_url=redis_cluster.url), "is a cluster: set REDIS_CLUSTER=true"),
        (RedisSettings(redis_url=redis_url, redis_cluster=True), "is not a cluster"),
    ):
        client = redis_client(wrong)
        with pytest.raises(ConfigError, match=message) as caught:
            await check_redis(client, wrong)
        await client.aclose()
        assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="only database 0"):
        redis_client(RedisSettings(redis_url=f"{redis_cluster.url[:-1]}1", redis_cluster=True))
    with pytest.raises(ConfigError, match="exclude each other"):
        redis_client(
            RedisSettings(
                redis_url=redis_cluster.url, redis_cluster=True, redis_sentinels="127.0.0.1:1"
            )
        )


async def test_a_password_from_a_file_reaches_every_node(
    password_cluster: RedisClusterNodes, tmp_path: Path
) -> None:
    secret = tmp_path / "redis-password"
    secret.write_text("cluster-s3cret\n")
    settings = RedisSettings(
        redis_url=password_cluster.url, redis_cluster=True, redis_password_file=secret
    )
    client = redis_client(settings)
    assert isinstance(client, RedisCluster)
    await check_redis(client, settings)
    # The fan-out's own per-node connections authenticate too.
    async with ClusterFanout(client, EventBus(client)) as fanout:
        sessions = list(sessions_per_node(client, fanout.bus, "auth").values())
        for key in sessions:
            async with fanout.listen(key) as sub:
                await fanout.bus.publish(key, delta(key, "hi"))
                assert texts(await take(sub, 1)) == ["hi"]
            await fanout.bus.delete(key)
    await client.aclose()

    secret.write_text("wrong")
    client = redis_client(settings)
    with pytest.raises(ConfigError, match="refused the credentials") as caught:
        await check_redis(client, settings)
    await client.aclose()
    assert "wrong" not in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_tls_with_a_client_certificate_on_every_node(
    tls_cluster: tuple[RedisClusterNodes, Pki],
) -> None:
    nodes, pki = tls_cluster
    query = f"ssl_ca_certs={pki.ca}&ssl_certfile={pki.client_cert}&ssl_keyfile={pki.client_key}"
    url = f"rediss://127.0.0.1:{nodes.ports[0]}/0?{query}&ssl_cert_reqs=required"
    settings = RedisSettings(redis_url=url, redis_cluster=True)
    assert describe(settings) == f"cluster at 127.0.0.1:{nodes.ports[0]} (TLS)"
    client = redis_client(settings)
    assert isinstance(client, RedisCluster)
    await check_redis(client, settings)
    async with ClusterFanout(client, EventBus(client)) as fanout:
        for key in sessions_per_node(client, fanout.bus, "tls").values():
            async with fanout.listen(key) as sub:
                await fanout.bus.publish(key, delta(key, "hi"))
                assert texts(await take(sub, 1)) == ["hi"]
            await fanout.bus.delete(key)
    await client.aclose()

    wrong = RedisSettings(redis_url=url.replace(str(pki.ca), str(pki.other_ca)), redis_cluster=True)
    client = redis_client(wrong)
    with pytest.raises(ConfigError, match="refused TLS") as caught:
        await check_redis(client, wrong)
    await client.aclose()
    assert "\n" not in str(caught.value)


async def move_slot(cluster: RedisCluster, key: str, target: str) -> None:
    """Move `key`'s slot, with its keys, to the node named `target` (what resharding does)."""
    slot = cluster.keyslot(key)
    source = cluster.get_node_from_key(key)
    destination = cluster.get_node(node_name=target)
    assert source is not None
    assert destination is not None
    ids = {}
    for node in (source, destination):
        ids[node.name] = (await cluster.execute_command("CLUSTER MYID", target_nodes=node)).decode()
    await cluster.execute_command(
        "CLUSTER SETSLOT", slot, "IMPORTING", ids[source.name], target_nodes=destination
    )
    await cluster.execute_command(
        "CLUSTER SETSLOT", slot, "MIGRATING", ids[destination.name], target_nodes=source
    )
    keys = await cluster.execute_command("CLUSTER GETKEYSINSLOT", slot, 100, target_nodes=source)
    if keys:
        await cluster.execute_command(
            "MIGRATE",
            destination.host,
            destination.port,
            "",
            0,
            5000,
            "KEYS",
            *keys,
            target_nodes=source,
        )
    for node in cluster.get_primaries():
        await cluster.execute_command(
            "CLUSTER SETSLOT", slot, "NODE", ids[destination.name], target_nodes=node
        )


async def test_a_slot_moved_to_another_node_follows_its_listeners(
    cluster: RedisCluster, fanout: ClusterFanout
) -> None:
    bus = fanout.bus
    sessions = sessions_per_node(cluster, bus, "moved")
    source, target = sorted(sessions)[:2]
    key = sessions[source]
    async with fanout.listen(key) as sub:
        await bus.publish(key, delta(key, "before"))
        assert texts(await take(sub, 1)) == ["before"]
        await move_slot(cluster, bus.stream_key(key), target)
        # The old node unsubscribes the channel; the fan-out subscribes on the new one and
        # the listener catches up from the log (which moved with the slot).
        await publish_retrying(bus, key, "after")
        assert texts(await take(sub, 1)) == ["after"]
        assert await apoll(lambda: _on(fanout, bus.channel(key), target), 10)
        await bus.publish(key, delta(key, "live"))
        assert texts(await take(sub, 1)) == ["live"]
    await bus.delete(key)


async def _on(fanout: ClusterFanout, channel: str, node: str) -> bool:
    link = fanout._placed.get(channel)
    return link is not None and link.name == node
