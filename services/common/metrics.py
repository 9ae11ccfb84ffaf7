"""The platform's metrics, named once for every service that records or reads them.

Prometheus names (a counter's samples end in `_total`, durations are in seconds). The gateway and
the MCP server record with `prometheus-client`; the worker records through Temporal's metric meter
(services/worker/metrics.py), whose Prometheus endpoint also carries the SDK's own worker
metrics (`temporal_*`), and whose workflow meter records nothing while a workflow replays. The
dashboard (deploy/observability/) queries these names; a test checks they all exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "histogram", "gauge"]


@dataclass(frozen=True)
class Metric:
    name: str  # without `_total`: prometheus-client and Temporal's exporter both add it
    kind: Kind
    description: str
    labels: tuple[str, ...] = ()

    @property
    def sample(self) -> str:
        """The name a query uses (a counter's `_total`, a histogram's base name)."""
        return f"{self.name}_total" if self.kind == "counter" else self.name


# Recorded by the worker (the workflow decides a turn's outcome; activities run steps and tools).
TURNS = Metric(
    "durable_agents_turns", "counter", "Turns ended, by outcome", ("outcome",)
)  # completed, failed, cancelled
TURN_DURATION = Metric(
    "durable_agents_turn_duration_seconds",
    "histogram",
    "From a turn's submit to its end, by outcome",
    ("outcome",),
)
TIME_TO_FIRST_TOKEN = Metric(
    "durable_agents_time_to_first_token_seconds",
    "histogram",
    "From a turn's submit to its first streamed text",
)
MODEL_CALLS = Metric(
    "durable_agents_model_calls",
    "counter",
    "Model steps (one attempt each), by outcome",
    ("outcome",),
)
TOOL_CALLS = Metric(
    "durable_agents_tool_calls", "counter", "Tool calls, by tool and outcome", ("tool", "outcome")
)
APPROVALS_REQUESTED = Metric(
    "durable_agents_approvals_requested", "counter", "Tool calls that waited for a person"
)
APPROVALS_RESOLVED = Metric(
    "durable_agents_approvals_resolved",
    "counter",
    "Approvals decided or timed out, by outcome",
    ("outcome",),
)
# Recorded by the gateway.
ACTIVE_STREAMS = Metric("durable_agents_active_streams", "gauge", "Open SSE streams")
FANOUT_LAG = Metric(
    "durable_agents_fanout_lag_seconds",
    "histogram",
    "From an event's publish (its ts) to its write to a viewer's stream (sampled beyond 32"
    " viewers of one session per gateway process)",
)
REJECTED_REQUESTS = Metric(
    "durable_agents_rejected_requests",
    "counter",
    "Requests refused with 429, by reason (rate-limited, overloaded, too-many-streams)",
    ("reason",),
)
# Recorded by the MCP server.
MCP_TOOL_CALLS = Metric(
    "durable_agents_mcp_server_tool_calls",
    "counter",
    "Tool calls the MCP server answered, by tool and outcome",
    ("tool", "outcome"),
)
# Derived by Prometheus (a recording rule): requested minus resolved, across workers.
APPROVALS_PENDING = Metric(
    "durable_agents_approvals_pending", "gauge", "Tool calls waiting for a person now"
)

# Seconds: a token in tens of milliseconds, a turn in seconds to minutes.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

ALL = (
    TURNS,
    TURN_DURATION,
    TIME_TO_FIRST_TOKEN,
    MODEL_CALLS,
    TOOL_CALLS,
    APPROVALS_REQUESTED,
    APPROVALS_RESOLVED,
    ACTIVE_STREAMS,
    FANOUT_LAG,
    REJECTED_REQUESTS,
    MCP_TOOL_CALLS,
    APPROVALS_PENDING,
)
