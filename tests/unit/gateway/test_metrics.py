"""The gateway's fan-out lag histogram: every write observed for a few viewers, a share for many."""

from __future__ import annotations

import itertools

from services.common.bus import BusEvent
from services.gateway import metrics


def _observed() -> float:
    for metric in metrics.FANOUT_LAG.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                return float(sample.value)
    raise AssertionError("no _count sample")


def test_each_write_is_observed_while_a_session_has_few_viewers() -> None:
    event = BusEvent("1000-0", "message.delta", "{}")
    before = _observed()
    for _ in range(10):
        metrics.observe_lag(event, viewers=metrics.LAG_SAMPLED_ABOVE)
    assert _observed() - before == 10


def test_writes_to_many_viewers_are_sampled_in_proportion() -> None:
    event = BusEvent("1000-0", "message.delta", "{}")
    viewers = 10 * metrics.LAG_SAMPLED_ABOVE
    draws = itertools.cycle(i / viewers for i in range(viewers))  # evenly spread in [0, 1)
    before = _observed()
    for _ in range(viewers):
        metrics.observe_lag(event, viewers=viewers, draw=lambda: next(draws))
    assert _observed() - before == metrics.LAG_SAMPLED_ABOVE
