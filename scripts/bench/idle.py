"""Section 5: what an idle session costs, and how much workflow history a turn adds.

N sessions each get one short turn ("hi"), then sit idle. Cost per idle session is the growth of
each measure over those N sessions, divided by N: the workers' summed RSS (each idle workflow
stays in their sticky cache), the Temporal dev server's RSS (a Go heap, so noisy: read it with
its database, which holds the histories) and the Temporal SQLite database on disk (file + WAL),
each the median of five readings; plus Redis's `MEMORY USAGE` of each session's replay log.
History per turn comes from Temporal itself (`fetch_history`, the sum of the
events' serialized sizes) on a few of the sessions: the size after the first turn, then what a
second small-talk turn and a third tool-using turn each add.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import redis.asyncio as aioredis
from temporalio.client import Client

from scripts.bench.common import Gateway
from scripts.stack.local import DEV_TENANT
from services.common.bus import stream_key
from services.common.sessions import BusKey, workflow_id
from services.common.temporal_client import DATA_CONVERTER

TOOL_PROMPT = "How is my progress today?"


async def _history(client: Client, sid: str) -> tuple[int, int]:
    history = await client.get_workflow_handle(workflow_id(DEV_TENANT, sid)).fetch_history()
    return len(history.events), sum(event.ByteSize() for event in history.events)


async def _settled(measure: Any) -> dict[str, int]:
    await asyncio.sleep(2.0)  # let in-flight work and the cache's bookkeeping finish
    readings: dict[str, list[int]] = {name: [] for name in measure}
    for _ in range(5):
        for name, fn in measure.items():
            readings[name].append(await asyncio.to_thread(fn))
        await asyncio.sleep(0.3)
    return {name: sorted(values)[len(values) // 2] for name, values in readings.items()}


async def run(
    gateway_url: str,
    api_key: str,
    temporal_address: str,
    namespace: str,
    redis_url: str,
    measure: dict[str, Any],
    sessions: int,
    sample: int = 5,
) -> dict[str, Any]:
    gateway = Gateway(gateway_url, api_key, max_connections=32)
    client = await Client.connect(
        temporal_address, namespace=namespace, data_converter=DATA_CONVERTER
    )
    errors: list[str] = []
    try:
        gc.collect()
        before = await _settled(measure)
        limit = asyncio.Semaphore(20)

        async def one() -> str:
            async with limit:
                sid = await gateway.create_session()
                turn = await gateway.stream_turn(sid)
                if not turn.ok:
                    errors.append(turn.error or "no turn.completed")
                return sid

        began = time.perf_counter()
        sids = await asyncio.gather(*(one() for _ in range(sessions)))
        seconds = time.perf_counter() - began
        after = await _settled(measure)
        redis = aioredis.from_url(redis_url)
        try:
            log_bytes = [
                int(await redis.memory_usage(stream_key(BusKey(DEV_TENANT, sid))) or 0)
                for sid in sids
            ]
        finally:
            await redis.aclose()
        first = [await _history(client, sid) for sid in sids[:sample]]
        for sid in sids[:sample]:
            await gateway.stream_turn(sid)
        second = [await _history(client, sid) for sid in sids[:sample]]
        for sid in sids[:sample]:
            turn = await gateway.stream_turn(sid, TOOL_PROMPT)
            if not turn.ok:
                errors.append(turn.error or "no turn.completed")
        third = [await _history(client, sid) for sid in sids[:sample]]
    finally:
        await gateway.aclose()

    def mean(pairs: list[tuple[int, int]], index: int) -> float:
        return sum(p[index] for p in pairs) / len(pairs)

    per_session = {
        name: round((after[name] - before[name]) / sessions / 1024, 1) for name in measure
    }
    per_session["redis_log"] = round(sum(log_bytes) / len(log_bytes) / 1024, 1)
    return {
        "sessions": sessions,
        "errors": len(errors),
        "error_samples": errors[:5],
        "mb": {
            name: {"before": round(before[name] / 2**20, 1), "after": round(after[name] / 2**20, 1)}
            for name in measure
        },
        "kib_per_idle_session": per_session,
        "history": {
            "first_turn": {"events": mean(first, 0), "bytes": mean(first, 1)},
            "small_talk_turn": {
                "events": mean(second, 0) - mean(first, 0),
                "bytes": mean(second, 1) - mean(first, 1),
            },
            "tool_turn": {
                "events": mean(third, 0) - mean(second, 0),
                "bytes": mean(third, 1) - mean(second, 1),
            },
        },
        "seconds": round(seconds, 1),
    }
