"""Section 4: N sessions each streaming one turn at once, through the platform and on the direct
path (scripts/bench/direct.py), side by side (N = 10, 50, 200, 1000).

Platform: sessions are created first (each workflow starts and resolves its roster), then every
session sends the same NutriSense question at the same moment and streams its turn to the end:
the full path, router -> handoff -> function call -> MCP tool -> streamed answer. Direct: the
same turns at the same concurrency with the SDK and the MCP client alone. Turns/s is N over the
wall time from the first send to the last turn's end; an error is any turn without an answer
(HTTP error, `turn.failed`, dropped stream). CPU is read from /proc for every component before
and after each burst and divided by the turns; memory is the peak summed RSS of the workers and
of the gateway (master + workers) while the turns run.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

import psutil
from mistralai.client import Mistral

from scripts.bench.common import Gateway, burst_figures, stage_summary
from scripts.bench.direct import DirectPath, entry_agent, mcp_session
from scripts.bench.direct import burst as direct_burst
from scripts.bench.rawclient import RawGateway
from scripts.bench.stack import cpu_seconds, rss_bytes

PROMPT = "How is my progress today?"
CLIENT = "client"  # this process: the benchmark's own HTTP/SSE or SDK client


async def _peak(pids: dict[str, list[int]], peak: dict[str, int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for name, group in pids.items():
            peak[name] = max(peak.get(name, 0), await asyncio.to_thread(rss_bytes, group))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


class CpuMeter:
    """CPU seconds per component between two readings (from /proc via psutil)."""

    def __init__(self, components: dict[str, list[int]]) -> None:
        self.components = components

    def read(self) -> dict[str, float]:
        readings = {name: cpu_seconds(group) for name, group in self.components.items()}
        # This process alone: the stack's servers are its children.
        own = psutil.Process().cpu_times()
        readings[CLIENT] = own.user + own.system
        return readings

    @staticmethod
    def per_turn_ms(
        before: dict[str, float], after: dict[str, float], turns: int
    ) -> dict[str, float]:
        if turns == 0:
            return {}
        spent = {name: (after[name] - before[name]) * 1000.0 / turns for name in after}
        spent = {name: round(ms, 1) for name, ms in spent.items()}
        spent["total"] = round(sum(spent.values()), 1)
        return spent


async def platform_burst(
    gateway_url: str, api_key: str, pids: dict[str, list[int]], meter: CpuMeter, n: int
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
        cpu_before = meter.read()
        began = time.perf_counter()
        sender = RawGateway(gateway_url, api_key)
        turns = await asyncio.gather(*(sender.stream_turn(sid, PROMPT) for sid in sessions))
        wall = time.perf_counter() - began
        cpu_after = meter.read()
        stop.set()
        await sampler
    finally:
        await gateway.aclose()
    ok = [t for t in turns if t.ok]
    figures = burst_figures(
        n,
        wall,
        [t.ttft_ms for t in ok if t.ttft_ms is not None],
        [(t.events[-1].at - t.started) * 1000.0 for t in ok if t.events],
        [t.error or "no turn.completed" for t in turns if not t.ok],
    )
    return {
        **figures,
        "refused_then_retried": sender.retries,
        "queued": sum(1 for t in turns if any(e.event == "turn.queued" for e in t.events)),
        "ttft_stages_ms": stage_summary(ok),
        "cpu_ms_per_turn": CpuMeter.per_turn_ms(cpu_before, cpu_after, len(ok)),
        "rss_mb": {
            name: {"before": round(before[name] / 2**20, 1), "peak": round(peak[name] / 2**20, 1)}
            for name in pids
        },
    }


async def run(
    gateway_url: str,
    sim_url: str,
    mcp: tuple[str, str],
    api_key: str,
    components: dict[str, list[int]],
    counts: list[int],
) -> dict[str, Any]:
    """For each N: the direct path, then the platform, each with its CPU per component."""
    meter = CpuMeter(components)
    rss_pids = {"workers": components["workers"], "gateway": components["gateway"]}
    warm = Gateway(gateway_url, api_key)
    try:  # registers the team, so the direct path can find the entry agent
        first = await warm.stream_turn(await warm.create_session(), PROMPT)
        if not first.ok:
            raise RuntimeError(f"warm-up turn failed: {first.error}")
    finally:
        await warm.aclose()
    client = Mistral(api_key="bench", server_url=sim_url, timeout_ms=600_000)
    rows: list[dict[str, Any]] = []
    try:
        agent = await entry_agent(client)
        for n in counts:
            # A session per burst: the MCP server drops connections idle for seconds, and a
            # transport error ends an MCP client session as a whole.
            async with mcp_session(*mcp) as session:
                cpu_before = meter.read()
                direct = await direct_burst(DirectPath(client, session, agent), PROMPT, n)
                ok = n - direct["errors"]
                direct["cpu_ms_per_turn"] = CpuMeter.per_turn_ms(cpu_before, meter.read(), ok)
            log(f"{n} at once, direct: {brief(direct)}")
            platform = await platform_burst(gateway_url, api_key, rss_pids, meter, n)
            log(f"{n} at once, platform: {brief(platform)}")
            rows.append({"sessions": n, "direct": direct, "platform": platform})
    finally:
        await client.__aexit__(None, None, None)  # type: ignore[no-untyped-call]
    for row in rows:
        row["ratio"] = ratios(row["direct"], row["platform"])
    return {"prompt": PROMPT, "rows": rows, "target": TARGETS}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def brief(side: dict[str, Any]) -> str:
    t, cpu = side["ttft_ms"], side["cpu_ms_per_turn"]
    return (
        f"{side['turns_per_s']} turns/s, TTFT p50 {t['p50']} p99 {t['p99']} ms, "
        f"errors {side['errors']} {side['error_samples'][:1]}, CPU ms/turn {cpu}"
    )


TARGETS = {
    "errors": 0,
    "throughput_share_min": 0.5,
    "ttft_p50_ratio_max": 2.0,
    "cpu_ratio_max": 2.0,
    "ttft_p50_ms_at_50": 2000,
    "worker_cpu_ms_per_turn": 40,
}


def ratios(direct: dict[str, Any], platform: dict[str, Any]) -> dict[str, float | None]:
    """The platform against the floor: throughput share, TTFT p50 and CPU per turn as ratios."""

    def over(a: float | None, b: float | None) -> float | None:
        return None if not a or not b else round(a / b, 2)

    return {
        "throughput_share": over(platform["turns_per_s"], direct["turns_per_s"]),
        "ttft_p50": over(platform["ttft_ms"]["p50"], direct["ttft_ms"]["p50"]),
        # The platform's own: its viewer (the benchmark's client) is not part of it; the direct
        # path's client is the program doing the worker's job, so it counts there.
        "cpu_per_turn": over(
            platform["cpu_ms_per_turn"].get("total", 0)
            - platform["cpu_ms_per_turn"].get(CLIENT, 0),
            direct["cpu_ms_per_turn"].get("total"),
        ),
    }
