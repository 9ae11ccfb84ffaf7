"""Per-key limits kept in Redis, so they hold across gateway processes and replicas.

Requests: GCRA (a token bucket as one timestamp per key) allowing `limit` requests per minute
with bursts up to `limit`. Streams: a sorted set of leases per key; each live stream's lease is
refreshed by its process, so a process that dies frees its slots when the leases run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.common.redis_client import AnyRedis

log = logging.getLogger(__name__)

PREFIX = "da:gw:"

# KEYS: bucket. ARGV: interval ms, burst. Returns {allowed, wait ms, remaining}.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, allow_at - now, 0}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1)
return {1, 0, math.floor((now - allow_at) / interval)}
"""

# KEYS: lease set. ARGV: max, lease ms, member. Returns 1 when a slot was taken.
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
"""

# KEYS: lease set. ARGV: lease ms, members... Pushes the leases of live streams forward.
_REFRESH_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 1
"""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int

    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


class RequestLimiter:
    """`limit` requests per minute per key."""

    def __init__(self, redis: AnyRedis, limit: int) -> None:
        self.limit = limit
        self._interval_ms = 60_000 / limit
        self._script = redis.register_script(_GCRA_LUA)

    async def hit(self, key_id: str) -> Decision:
        allowed, wait_ms, remaining = await self._script(
            keys=[f"{PREFIX}rate:{key_id}"], args=[self._interval_ms, self.limit]
        )
        retry = max(1, math.ceil(float(wait_ms) / 1000)) if not allowed else 0
        return Decision(bool(allowed), self.limit, int(remaining), retry)


class StreamSlots:
    """At most `limit` concurrent streams per key, as leases this process keeps fresh."""

    def __init__(self, redis: AnyRedis, limit: int, *, lease_s: float = 30.0) -> None:
        self.limit = limit
        self.lease_ms = int(lease_s * 1000)
        self._acquire = redis.register_script(_ACQUIRE_LUA)
        self._refresh = redis.register_script(_REFRESH_LUA)
        self._redis = redis
        self._live: dict[str, set[str]] = {}
        self._task: asyncio.Task[None] | None = None

    def _key(self, key_id: str) -> str:
        return f"{PREFIX}streams:{key_id}"

    async def acquire(self, key_id: str) -> str | None:
        """A slot token, or None when the key has `limit` streams open."""
        token = uuid.uuid4().hex
        taken = await self._acquire(
            keys=[self._key(key_id)], args=[self.limit, self.lease_ms, token]
        )
        if not taken:
            return None
        self._live.setdefault(key_id, set()).add(token)
        return token

    async def release(self, key_id: str, token: str) -> None:
        tokens = self._live.get(key_id)
        if tokens is not None:
            tokens.discard(token)
            if not tokens:
                del self._live[key_id]
        with contextlib.suppress(Exception):  # the lease runs out on its own
            await self._redis.zrem(self._key(key_id), token)

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_forever(), name="stream-leases")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            for key_id, tokens in list(self._live.items()):
                try:
                    await self._refresh(keys=[self._key(key_id)], args=[self.lease_ms, *tokens])
                except Exception as exc:  # Redis down: try again next round
                    log.debug("stream lease refresh failed: %s", exc)
