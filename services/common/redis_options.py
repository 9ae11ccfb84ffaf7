"""How every service connects to Redis.

A pooled connection outlives a Redis restart on the client side; the first command sent on it
fails with "Connection closed by server" (redis-py 8 does not retry that by default, measured:
the first publish after a restart failed, so a step lost its events with Redis up again). Such
an error is retried on a fresh connection, twice with a short backoff; a Redis that is still
down fails fast. Publishes that must not repeat carry a `once` key (services/common/bus.py).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

# Bounded: a paused or unreachable Redis costs a caller seconds, not a hang.
SOCKET_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0


def connection_options() -> dict[str, Any]:
    """Keyword arguments for `redis.asyncio.from_url` or a connection pool's `from_url`."""
    return {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        "retry_on_error": [RedisConnectionError],
    }
