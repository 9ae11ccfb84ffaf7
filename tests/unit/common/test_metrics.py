from __future__ import annotations

import re

from services.common import metrics


def test_every_metric_is_named_once_in_prometheus_style() -> None:
    names = [metric.name for metric in metrics.ALL]
    assert len(names) == len(set(names))
    for metric in metrics.ALL:
        assert re.fullmatch(r"durable_agents_[a-z_]+", metric.name), metric.name
        assert not metric.name.endswith("_total"), "exporters add _total to counters"
        if metric.kind == "histogram":
            assert metric.name.endswith("_seconds"), metric.name
        assert metric.description


def test_a_counters_samples_end_in_total() -> None:
    assert metrics.TURNS.sample == "durable_agents_turns_total"
    assert metrics.FANOUT_LAG.sample == "durable_agents_fanout_lag_seconds"
