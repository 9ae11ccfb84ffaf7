"""The gateway's metrics and its `GET /metrics` (Prometheus text, not behind the API key).

Gunicorn runs several processes: `python -m services.gateway` prepares prometheus-client's
multiprocess mode before they start, so a scrape of any sums them all
(services/common/prometheus.py). `GATEWAY_METRICS=false` serves nothing;
`GATEWAY_METRICS_PORT` serves the metrics from the gunicorn master on a port of their own
instead of the API's (services/gateway/gunicorn_conf.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from services.common import metrics, prometheus
from services.common.bus import BusEvent

ACTIVE_STREAMS = Gauge(
    metrics.ACTIVE_STREAMS.name,
    metrics.ACTIVE_STREAMS.description,
    multiprocess_mode="livesum",  # the open streams of the processes alive now
)
FANOUT_LAG = Histogram(
    metrics.FANOUT_LAG.name, metrics.FANOUT_LAG.description, buckets=metrics.LAG_BUCKETS
)
REJECTED_REQUESTS = Counter(
    metrics.REJECTED_REQUESTS.name,
    metrics.REJECTED_REQUESTS.description,
    metrics.REJECTED_REQUESTS.labels,
)


# Above this many local viewers of one session, writes are sampled: an observation takes two
# locked mmap writes (multiprocess mode), a third of what writing the event to a viewer costs.
LAG_SAMPLED_ABOVE = 32


def observe_lag(
    event: BusEvent, viewers: int = 1, draw: Callable[[], float] = random.random
) -> None:
    """An event's age as it is written to a viewer: its bus id is Redis' clock at publish.

    `viewers`: how many viewers of the session this process writes the event to. Beyond
    LAG_SAMPLED_ABOVE, a random LAG_SAMPLED_ABOVE-in-`viewers` share is observed, so the
    histogram's quantiles stay those of all writes while its count stops growing with them.
    """
    if viewers > LAG_SAMPLED_ABOVE and draw() * viewers >= LAG_SAMPLED_ABOVE:
        return
    FANOUT_LAG.observe(max(0.0, time.time() - event.key[0] / 1000.0))


def rejected(reason: str) -> None:
    REJECTED_REQUESTS.labels(reason=reason).inc()


ROUTES = prometheus.ROUTES
