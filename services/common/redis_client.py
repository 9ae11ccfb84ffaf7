"""How every service reaches Redis: one URL, a password from a file, or Sentinel.

- `redis://host:port/db`, `unix:///path?db=`, or `rediss://` for TLS with its options in the
  query (`ssl_ca_certs=`, `ssl_certfile=`, `ssl_keyfile=`, `ssl_cert_reqs=required`), as redis-py
  reads them;
- `REDIS_PASSWORD_FILE`: the password from a mounted secret rather than the URL;
- `REDIS_SENTINELS`: ask the Sentinels for the master (`REDIS_SENTINEL_MASTER`); a failover
  moves every new connection to the new master;
- `REDIS_CLUSTER=true`: a Redis Cluster, the URL naming any of its nodes (database 0, TLS and
  password as above). Each session's keys share one hash tag (services/common/bus.py) and live
  events go over sharded pub/sub (services/gateway/cluster_fanout.py).

`check_redis` at start tells a configuration that cannot work (a certificate Redis or the
client refuses, a wrong password) from a Redis that is merely down: the first stops the service
with one line, the second does not (a service outlives a Redis outage: docs/architecture.md#faults).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import BlockingConnectionPool, parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import (
    AuthenticationError,
    RedisClusterException,
    RedisError,
    ResponseError,
)

from services.common.redis_options import connection_options
from services.common.settings import ConfigError, RedisSettings

log = logging.getLogger(__name__)

# What a service holds: one Redis (plain, TLS or through Sentinel) or a cluster client.
AnyRedis = aioredis.Redis | RedisCluster


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """A Sentinel pool that waits for a free connection at its limit, as the plain one does
    (redis-py's Sentinel pool raises instead)."""


def _password(settings: RedisSettings) -> dict[str, Any]:
    if settings.redis_password_file is None:
        return {}
    try:
        password = settings.redis_password_file.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"configuration error: REDIS_PASSWORD_FILE cannot be read: {exc.strerror}"
        ) from None
    return {"password": password}


def _sentinel_hosts(value: str) -> list[tuple[str, int]]:
    hosts = []
    for item in value.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(
                f"configuration error: REDIS_SENTINELS must be host:port,host:port, not {item!r}"
            )
        hosts.append((host, int(port)))
    return hosts


def redis_client(
    settings: RedisSettings, *, max_connections: int | None = None, wait_s: float = 5.0
) -> AnyRedis:
    """A client for the services' Redis. With `max_connections`, a caller at the pool's limit
    waits up to `wait_s` for a free connection rather than failing at once (on a cluster the
    limit is per node and a caller over it fails: redis-py's cluster pools do not wait)."""
    options = {**connection_options(), **_password(settings)}
    if settings.redis_cluster:
        return _cluster(settings, options, max_connections)
    pooled: dict[str, Any] = {}
    if max_connections is not None:
        pooled = {"max_connections": max_connections, "timeout": wait_s}
    if settings.redis_sentinels:
        return _sentinel_master(settings, options, pooled)
    if pooled:
        pool = BlockingConnectionPool.from_url(settings.redis_url, **options, **pooled)
        return aioredis.Redis(connection_pool=pool)
    return aioredis.from_url(settings.redis_url, **options)


def _sentinel_master(
    settings: RedisSettings, options: dict[str, Any], pooled: dict[str, Any]
) -> aioredis.Redis:
    # The URL's database, username, password and TLS options apply to the master; its host
    # does not (the Sentinels name the master).
    from_url = dict(parse_url(settings.redis_url))
    for name in ("host", "port", "path", "connection_class"):
        from_url.pop(name, None)
    if settings.redis_url.startswith("rediss://"):
        from_url["ssl"] = True
    # redis-py leaves Sentinel's constructor unannotated.
    sentinel = cast(Callable[..., Sentinel], Sentinel)(
        _sentinel_hosts(settings.redis_sentinels),
        socket_timeout=options["socket_timeout"],
        socket_connect_timeout=options["socket_connect_timeout"],
    )
    pool_class = _BlockingSentinelPool if pooled else SentinelConnectionPool
    master: aioredis.Redis = sentinel.master_for(
        settings.redis_sentinel_master,
        connection_pool_class=pool_class,
        **{**from_url, **options, **pooled},
    )
    return master


def _cluster(
    settings: RedisSettings, options: dict[str, Any], max_connections: int | None
) -> RedisCluster:
    url = settings.redis_url
    if settings.redis_sentinels:
        raise ConfigError(
            "configuration error: REDIS_CLUSTER and REDIS_SENTINELS exclude each other "
            "(a cluster has no Sentinels)"
        )
    if not url.startswith(("redis://", "rediss://")):
        raise ConfigError(
            "configuration error: REDIS_CLUSTER needs a redis:// or rediss:// URL naming a node"
        )
    if int(parse_url(url).get("db", 0) or 0) != 0:
        raise ConfigError("configuration error: a Redis Cluster has only database 0 (REDIS_URL)")
    # Keys of a session may move between nodes: commands follow MOVED/ASK with redis-py's own
    # retries, so the single-connection retry options are left out.
    cluster_options = {k: v for k, v in options.items() if k not in ("retry", "retry_on_error")}
    if max_connections is not None:
        cluster_options["max_connections"] = max_connections
    return RedisCluster.from_url(url, require_full_coverage=False, **cluster_options)


async def ping(client: AnyRedis) -> None:
    """Raise unless Redis answers, for readiness. On a cluster one primary answering is
    enough: a node that is down stops only its own sessions, and taking every gateway out of
    service for it would stop all of them."""
    if not isinstance(client, RedisCluster):
        await client.ping()
        return
    await client.initialize()  # learns the nodes once; raises when none answers
    # At once, not one after another: a node that does not answer costs its connect timeout.
    results = await asyncio.gather(
        *(client.ping(target_nodes=node) for node in client.get_primaries()),
        return_exceptions=True,
    )
    if any(result is True for result in results):
        return
    failures = [result for result in results if isinstance(result, BaseException)]
    raise failures[0] if failures else RedisClusterException("no Redis Cluster node is known")


def describe(settings: RedisSettings) -> str:
    """Where the services' Redis is, for logs and errors (never a password)."""
    if settings.redis_cluster:
        url = parse_url(settings.redis_url)
        tls = " (TLS)" if settings.redis_url.startswith("rediss://") else ""
        return f"cluster at {url.get('host', 'localhost')}:{url.get('port', 6379)}{tls}"
    if settings.redis_sentinels:
        return f"master {settings.redis_sentinel_master!r} of Sentinels {settings.redis_sentinels}"
    url = parse_url(settings.redis_url)
    where = url.get("path") or f"{url.get('host', 'localhost')}:{url.get('port', 6379)}"
    return f"{where}{' (TLS)' if settings.redis_url.startswith('rediss://') else ''}"


async def check_redis(client: AnyRedis, settings: RedisSettings) -> None:
    """Ping once at start: settings that cannot work raise ConfigError (one line); an
    unreachable Redis is only logged, since every service outlives a Redis outage."""
    try:
        await client.ping()
        if not settings.redis_cluster:
            await _not_a_cluster(client, settings)
    except (RedisError, RedisClusterException) as exc:
        # A cluster client wraps what its nodes answered; look at the whole chain.
        chain = _chain(exc)
        text = " ".join(str(each) for each in chain)
        if "cluster support disabled" in text:
            raise ConfigError(
                f"Redis at {describe(settings)} is not a cluster: unset REDIS_CLUSTER"
            ) from None
        if any(isinstance(each, (AuthenticationError, ResponseError)) for each in chain):
            # WRONGPASS, NOAUTH
            raise ConfigError(
                f"Redis at {describe(settings)} refused the credentials: {exc}"
            ) from None
        if any(isinstance(each, ssl.SSLError) for each in chain) or "SSL" in text:
            raise ConfigError(
                f"Redis at {describe(settings)} refused TLS: {exc} (check the rediss:// URL's "
                "ssl_ca_certs, ssl_certfile and ssl_keyfile)"
            ) from None
        log.warning("Redis at %s is not answering yet (%s); going on", describe(settings), exc)


async def _not_a_cluster(client: AnyRedis, settings: RedisSettings) -> None:
    """A cluster node reached as a plain Redis answers most keys with MOVED: say so at start."""
    try:
        info = await client.info("cluster")
    except ResponseError:  # INFO renamed or disabled by a managed service: nothing to tell
        return
    if int(info.get("cluster_enabled", 0)):
        raise ConfigError(f"Redis at {describe(settings)} is a cluster: set REDIS_CLUSTER=true")


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
