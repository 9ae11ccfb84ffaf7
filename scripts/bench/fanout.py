"""Section 3: one streaming session watched by 1, 10, 100 and 1,000 SSE viewers.

Viewers run in separate processes (`scripts.bench.viewers`, raw sockets, up to 250 per
process) so the orchestrator's own loop stays free. The sender streams `turns` turns of a
NutriSense question with a ~40-token answer (read-only tool) while every viewer follows
`GET /v1/sessions/{sid}/events`; lag is each viewer's arrival time minus the event's `ts`,
stamped by the worker right before it publishes (ms precision, so lags read up to 1 ms high).
Gateway CPU is the CPU time of the gunicorn master and its workers over the turns, divided by
the wall time (1.0 = one core busy); memory is their summed RSS, the peak seen while streaming.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
from typing import Any

import orjson

from scripts.bench.common import Gateway, summary
from scripts.bench.stack import cpu_seconds, rss_bytes

PROMPT = "How is my progress today?"
PER_PROCESS = 250


async def _sample_rss(pids: list[int], peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], await asyncio.to_thread(rss_bytes, pids))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def watch(
    gateway_url: str, api_key: str, gateway_pids: list[int], viewers: int, turns: int
) -> dict[str, Any]:
    port = int(gateway_url.rsplit(":", 1)[1])
    gateway = Gateway(gateway_url, api_key, max_connections=4)
    procs: list[asyncio.subprocess.Process] = []
    try:
        sid = await gateway.create_session()
        warm = await gateway.stream_turn(sid)  # the session's roster and conversation, unmeasured
        if not warm.ok:
            raise RuntimeError(f"warm-up turn failed: {warm.error}")
        rss_idle = rss_bytes(gateway_pids)
        chunks = max(1, math.ceil(viewers / PER_PROCESS))
        for index in range(chunks):
            count = viewers // chunks + (1 if index < viewers % chunks else 0)
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "scripts.bench.viewers", "--port", str(port),
                    "--key", api_key, "--sid", sid, "--count", str(count), "--turns", str(turns),
                    stdout=asyncio.subprocess.PIPE,
                )
            )  # fmt: skip
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 120)
            if line.strip() != b"ready":
                raise RuntimeError(f"viewer process did not start: {line!r}")
        rss_connected = rss_bytes(gateway_pids)
        peak = [rss_connected]
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_rss(gateway_pids, peak, stop))
        cpu_before, began = cpu_seconds(gateway_pids), time.perf_counter()
        sent = [await gateway.stream_turn(sid, PROMPT) for _ in range(turns)]
        outputs = [await proc.communicate() for proc in procs]
        wall = time.perf_counter() - began
        cpu = cpu_seconds(gateway_pids) - cpu_before
        stop.set()
        await sampler
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await gateway.aclose()
    lags: list[float] = []
    deltas: list[int] = []
    errors = [t.error for t in sent if not t.ok]
    for stdout, _ in outputs:
        result = orjson.loads(stdout.strip().splitlines()[-1])
        lags += result["lags_ms"]
        deltas += result["deltas"]
        errors += result["errors"]
    expected = sum(len(t.deltas) for t in sent)
    short = sum(1 for count in deltas if count != expected)
    return {
        "viewers": viewers,
        "turns": turns,
        "deltas_per_viewer": expected,
        "lag_ms": summary(lags),
        "viewers_missing_deltas": short,
        "errors": len(errors),
        "error_samples": errors[:5],
        "gateway_cpu_cores": round(cpu / wall, 2) if wall > 0 else None,
        "gateway_rss_mb": {
            "idle": round(rss_idle / 2**20, 1),
            "connected": round(rss_connected / 2**20, 1),
            "peak": round(peak[0] / 2**20, 1),
        },
        "seconds": round(wall, 1),
    }


async def run(
    gateway_url: str, api_key: str, gateway_pids: list[int], counts: list[int], turns: int
) -> dict[str, Any]:
    rows = [await watch(gateway_url, api_key, gateway_pids, n, turns) for n in counts]
    return {"prompt": PROMPT, "rows": rows, "target": {"viewers": 1000, "lag_p99_ms": 100}}
