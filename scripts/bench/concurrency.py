"""Section 4: N sessions each streaming one turn at once (N = 10, 50, 200).

Sessions are created first (each workflow starts and resolves its roster), then every session
sends the same NutriSense question at the same moment and streams its turn to the end: the full
path, router -> handoff -> function call -> MCP tool -> streamed answer. Turns/s is N over the
wall time from the first send to the last `turn.completed`; an error is any turn without a
`turn.completed` (HTTP error, `turn.failed`, dropped stream). Memory is the peak summed RSS of
the worker processes and of the gateway (master + workers) while the turns run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from scripts.bench.common import Gateway, stage_summary, summary
from scripts.bench.stack import rss_bytes

PROMPT = "How is my progress today?"


async def _peak(pids: dict[str, list[int]], peak: dict[str, int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for name, group in pids.items():
            peak[name] = max(peak.get(name, 0), await asyncio.to_thread(rss_bytes, group))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def burst(
    gateway_url: str, api_key: str, pids: dict[str, list[int]], n: int
) -> dict[str, Any]:
    gateway = Gateway(gateway_url, api_key, max_connections=n + 8)
    try:
        limit = asyncio.Semaphore(20)

        async def create() -> str:
            async with limit:
                return await gateway.create_session()

        sessions = await asyncio.gather(*(create() for _ in range(n)))
        before = {name: rss_bytes(group) for name, group in pids.items()}
        peak: dict[str, int] = dict(before)
        stop = asyncio.Event()
        sampler = asyncio.create_task(_peak(pids, peak, stop))
        began = time.perf_counter()
        turns = await asyncio.gather(*(gateway.stream_turn(sid, PROMPT) for sid in sessions))
        wall = time.perf_counter() - began
        stop.set()
        await sampler
    finally:
        await gateway.aclose()
    ok = [t for t in turns if t.ok]
    errors = [t.error or "no turn.completed" for t in turns if not t.ok]
    return {
        "sessions": n,
        "turns_per_s": round(len(ok) / wall, 2),
        "errors": len(errors),
        "error_samples": errors[:5],
        "ttft_ms": summary([t.ttft_ms for t in ok if t.ttft_ms is not None]),
        "turn_ms": summary(
            [(t.events[-1].at - t.started) * 1000.0 for t in ok if t.events], digits=0
        ),
        "ttft_stages_ms": stage_summary(ok),
        "rss_mb": {
            name: {"before": round(before[name] / 2**20, 1), "peak": round(peak[name] / 2**20, 1)}
            for name in pids
        },
        "seconds": round(wall, 1),
    }


async def run(
    gateway_url: str, api_key: str, pids: dict[str, list[int]], counts: list[int]
) -> dict[str, Any]:
    rows = [await burst(gateway_url, api_key, pids, n) for n in counts]
    return {"prompt": PROMPT, "rows": rows, "target": {"errors": 0}}
