"""`python -m scripts.bench` (`make bench`): the platform's overhead, measured in one run.

Starts the local stack in `.data/bench/stack` on free ports with the simulator at fixed timings,
runs each section, prints the machine, a table and the JSON, writes the JSON to
`.data/bench/latest.json` (or `--json PATH`), and stops the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from scripts.bench import concurrency, fanout, figures, idle, ttft
from scripts.bench.gaps import gaps_result
from scripts.bench.report import emit, machine
from scripts.bench.stack import API_KEY, Timing, bench_stack, pids, rss_bytes
from scripts.stack.local import LocalStack
from scripts.stack.processes import REPO_ROOT

SECTIONS = ("ttft", "gaps", "fanout", "idle", "concurrency")


class Counts:
    def __init__(self, quick: bool) -> None:
        self.ab_turns = 10 if quick else 200
        self.fanout_viewers = [1, 10] if quick else [1, 10, 100, 1000]
        self.fanout_turns = 1 if quick else 3
        self.idle_sessions = 10 if quick else 500
        self.idle_sample = 2 if quick else 5
        self.concurrency = [5] if quick else [10, 50, 200, 1000]


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run_sections(
    stack: LocalStack, wanted: set[str], counts: Counts, timing: Timing
) -> dict[str, Any]:
    """Every wanted section against a started stack; returns their results by name."""
    assert stack.temporal is not None
    results: dict[str, Any] = {}
    gateway_pids = pids(stack, "gateway")
    worker_pids = pids(stack, "worker-")
    if wanted & {"ttft", "gaps"}:
        _log(f"ttft/gaps: {counts.ab_turns} direct + {counts.ab_turns} platform turns, interleaved")
        samples = await ttft.run_ab(stack.gateway_url, stack.sim_url, API_KEY, counts.ab_turns)
        if "ttft" in wanted:
            results["ttft"] = ttft.ttft_result(samples)
        if "gaps" in wanted:
            results["gaps"] = gaps_result(samples, timing)
    if "fanout" in wanted:
        _log(f"fanout: {counts.fanout_viewers} viewers, {counts.fanout_turns} turns each")
        results["fanout"] = await fanout.run(
            stack.gateway_url, API_KEY, gateway_pids, counts.fanout_viewers, counts.fanout_turns
        )
    if "idle" in wanted:
        _log(f"idle: {counts.idle_sessions} sessions with one turn each")
        assert stack.redis is not None
        db = stack.data_dir / "temporal" / "temporal.db"
        measure = {
            "workers_rss": lambda: rss_bytes(worker_pids),
            "temporal_rss": lambda: rss_bytes(pids(stack, "temporal")),
            "temporal_db": lambda: sum(
                p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file()
            ),
        }
        results["idle"] = await idle.run(
            stack.gateway_url,
            API_KEY,
            stack.temporal.address,
            stack.temporal.namespace,
            stack.redis.url,
            measure,
            counts.idle_sessions,
            counts.idle_sample,
        )
    if "concurrency" in wanted:
        _log(f"concurrency: {counts.concurrency} sessions at once")
        components = {
            "workers": worker_pids,
            "gateway": gateway_pids,
            "temporal": pids(stack, "temporal"),
            "redis": pids(stack, "redis"),
            "mcp": pids(stack, "mcp"),
            "simulator": pids(stack, "mistral-sim"),
        }
        results["concurrency"] = await concurrency.run(
            stack.gateway_url,
            stack.sim_url,
            (stack.mcp_url, stack.extra_env["MCP_AUTH_TOKEN"]),
            API_KEY,
            components,
            counts.concurrency,
        )
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help="comma list of " + ",".join(SECTIONS)
    )
    parser.add_argument("--json", type=Path, default=REPO_ROOT / ".data" / "bench" / "latest.json")
    parser.add_argument(
        "--figures",
        default=None,
        help="folder for the PNG figures (default docs/bench, .data/bench/figures with "
        "--quick); 'none' draws none",
    )
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".data" / "bench" / "stack")
    parser.add_argument(
        "--sessions",
        default=None,
        help="comma list of sessions at once for the concurrency section (default 10,50,200,1000)",
    )
    args = parser.parse_args(argv)
    args.sections = {s.strip() for s in args.only.split(",") if s.strip()}
    if unknown := args.sections - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if args.sessions is not None:
        try:
            args.sessions = [int(n) for n in args.sessions.split(",") if n.strip()]
        except ValueError:
            parser.error(f"--sessions takes whole numbers, not {args.sessions!r}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    timing = Timing()
    counts = Counts(args.quick)
    if args.sessions:
        counts.concurrency = args.sessions
    began = time.perf_counter()
    _log(f"starting the local stack in {args.data_dir}")
    with bench_stack(args.data_dir, timing=timing) as stack:
        _log(f"stack up at {stack.gateway_url}")
        sections = asyncio.run(run_sections(stack, args.sections, counts, timing))
    results: dict[str, Any] = {
        "machine": machine(),
        "simulator": f"first token {timing.first_token_ms:g} ms, {timing.tokens_per_s:g} tokens/s",
        "stack": "local stack: Temporal dev server (SQLite), Redis, simulator, MCP server, "
        "2 workers, gateway (gunicorn, 4 uvicorn workers)",
        "command": "make bench  # python -m scripts.bench " + " ".join(argv or sys.argv[1:]),
        "quick": args.quick,
        **sections,
        "seconds": round(time.perf_counter() - began, 1),
    }
    emit(results, args.json)
    if args.figures != "none":
        default = REPO_ROOT / (".data/bench/figures" if args.quick else "docs/bench")
        for path in figures.draw(results, Path(args.figures) if args.figures else default):
            _log(f"figure: {path}")


if __name__ == "__main__":
    main()
