"""The worker's metrics, through Temporal's metric meter.

One Prometheus endpoint per worker process (`WORKER_METRICS_ADDRESS`, e.g. `0.0.0.0:9464`)
serves the SDK's own worker metrics (`temporal_*`: slots, poll and task latencies) and ours
(services/common/metrics.py). Workflow code records through `workflow.metric_meter()`, which
records nothing while a workflow replays, so a turn replayed on another worker is not counted
twice; activities through `activity.metric_meter()`.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import activity, workflow
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from services.common import metrics
from services.common.settings import ConfigError

# Seconds, as services/common/metrics.py buckets them (the SDK's default is milliseconds).
BUCKETS = {
    metrics.TURN_DURATION.name: list(metrics.LATENCY_BUCKETS),
    metrics.TIME_TO_FIRST_TOKEN.name: list(metrics.LATENCY_BUCKETS),
}


def runtime(address: str) -> Runtime:
    """A Temporal runtime that serves Prometheus text on `address` (host:port)."""
    config = PrometheusConfig(
        bind_address=address,
        counters_total_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides=BUCKETS,
    )
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=config))
    except (ValueError, RuntimeError, OSError) as exc:  # a bad address, or a port in use
        raise ConfigError(
            f"configuration error: WORKER_METRICS_ADDRESS={address!r} cannot serve metrics: {exc}"
        ) from None


def _count(meter: MetricMeter, metric: metrics.Metric, **labels: str) -> None:
    meter.create_counter(metric.name, metric.description).add(1, labels)


def _seconds(meter: MetricMeter, metric: metrics.Metric, value: float, **labels: str) -> None:
    meter.create_histogram_float(metric.name, metric.description, "s").record(
        max(0.0, value), labels
    )


# -- in workflow code ----------------------------------------------------------------------


def turn_ended(outcome: str, submitted_at: str | None) -> None:
    meter = workflow.metric_meter()
    _count(meter, metrics.TURNS, outcome=outcome)
    if submitted_at:
        took = workflow.now() - datetime.fromisoformat(submitted_at)
        _seconds(meter, metrics.TURN_DURATION, took.total_seconds(), outcome=outcome)


def approval_requested() -> None:
    _count(workflow.metric_meter(), metrics.APPROVALS_REQUESTED)


def approval_resolved(approved: bool) -> None:
    outcome = "approved" if approved else "rejected"
    _count(workflow.metric_meter(), metrics.APPROVALS_RESOLVED, outcome=outcome)


# -- in activities -------------------------------------------------------------------------


def model_call(outcome: str) -> None:
    _count(activity.metric_meter(), metrics.MODEL_CALLS, outcome=outcome)


def tool_call(tool: str, outcome: str) -> None:
    _count(activity.metric_meter(), metrics.TOOL_CALLS, tool=tool, outcome=outcome)


def first_token(submitted_at: str) -> None:
    """The turn's first streamed text, `submitted_at` (ISO 8601, the gateway's clock) after
    the person sent it."""
    took = datetime.now(datetime.fromisoformat(submitted_at).tzinfo) - datetime.fromisoformat(
        submitted_at
    )
    _seconds(activity.metric_meter(), metrics.TIME_TO_FIRST_TOKEN, took.total_seconds())
