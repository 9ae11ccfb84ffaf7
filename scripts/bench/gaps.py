"""Section 2: inter-token gaps seen by a client, direct SDK vs the platform.

Measured on the same interleaved turns as section 1 (see ttft.py): every gap between two
consecutive text deltas of one turn, on the client, against the simulator's fixed pacing.
"Added" is the platform's percentile minus the direct path's percentile at the same rank.
"""

from __future__ import annotations

import itertools
from typing import Any

from scripts.bench.common import summary
from scripts.bench.stack import Timing
from scripts.bench.ttft import ABSamples


def _gaps(times: list[float]) -> list[float]:
    return [(b - a) * 1000.0 for a, b in itertools.pairwise(times)]


def gaps_result(samples: ABSamples, timing: Timing) -> dict[str, Any]:
    direct = [g for t in samples.direct for g in _gaps(t.deltas)]
    platform = [g for t in samples.platform for g in _gaps([e.at for e in t.deltas])]
    d, p = summary(direct, 2), summary(platform, 2)
    added = {
        q: round(p[q] - d[q], 2)
        for q in ("p50", "p95", "p99")
        if p[q] is not None and d[q] is not None
    }
    return {
        "sim_interval_ms": round(timing.token_interval_ms, 2),
        "direct_ms": d,
        "platform_ms": p,
        "added_ms": added,
        "target": {"added_p99_ms": 5},
    }
