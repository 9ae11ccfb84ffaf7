"""`make bench` in miniature: every section runs against a small local stack and reports in the
expected shape with no errors. Structure only: nothing here depends on the machine's speed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from scripts.bench.__main__ import SECTIONS, Counts, run_sections
from scripts.bench.report import machine, table
from scripts.bench.stack import Timing, bench_stack


def test_every_section_runs_and_reports(tmp_path: Path) -> None:
    counts = Counts(quick=True)
    counts.ab_turns, counts.fanout_viewers, counts.fanout_turns = 4, [2], 1
    counts.idle_sessions, counts.idle_sample, counts.concurrency = 3, 1, [3]
    timing = Timing(first_token_ms=20, tokens_per_s=500)
    with bench_stack(tmp_path / "stack", workers=1, timing=timing) as stack:
        results = asyncio.run(run_sections(stack, set(SECTIONS), counts, timing))

    assert set(results) == set(SECTIONS)
    ttft = results["ttft"]
    assert ttft["errors"] == 0
    assert ttft["direct_ms"]["n"] == ttft["platform_ms"]["n"] == ttft["added_ms"]["n"] == 4
    assert set(ttft["platform_breakdown_ms"]) >= {"post_to_turn_started"}
    assert results["gaps"]["platform_ms"]["n"] > 0
    assert results["gaps"]["direct_ms"]["n"] > 0
    (row,) = results["fanout"]["rows"]
    assert row["viewers"] == 2
    assert row["errors"] == 0
    assert row["viewers_missing_deltas"] == 0
    assert row["lag_ms"]["n"] == 2 * row["deltas_per_viewer"] > 0
    (burst,) = results["concurrency"]["rows"]
    assert burst["sessions"] == 3
    for side in (burst["direct"], burst["platform"]):
        assert side["errors"] == 0
        assert side["ttft_ms"]["n"] == 3
        assert side["cpu_ms_per_turn"]["total"] > 0
    assert burst["direct"]["tool_calls"] == 3  # the same turn as the platform's: one tool call
    assert burst["platform"]["cpu_ms_per_turn"]["workers"] > 0
    assert set(burst["ratio"]) == {"throughput_share", "ttft_p50", "cpu_per_turn"}
    idle = results["idle"]
    assert idle["errors"] == 0
    assert idle["sessions"] == 3
    assert set(idle["kib_per_idle_session"]) == {
        "workers_rss",
        "temporal_rss",
        "temporal_db",
        "redis_log",
    }
    assert idle["history"]["first_turn"]["events"] > 0
    rendered = table({**results, "machine": machine()})
    assert "TTFT added" in rendered
    assert "fan-out 2 viewers" in rendered
    assert "3 at once, direct path" in rendered
    assert "3 at once, platform/direct" not in rendered  # ratios are targets at 50 and 200
