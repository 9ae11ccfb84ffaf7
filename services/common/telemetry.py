"""Tracing through Logfire (OpenTelemetry), with no token and no network needed.

`setup_telemetry` is the one place a service turns tracing on, and it does so only when the spans
have somewhere to go: a `LOGFIRE_TOKEN`, an OTLP collector (`OTEL_EXPORTER_OTLP_ENDPOINT`), the
console (`LOGFIRE_CONSOLE`), or a span processor a test passes (an in-memory exporter).
Otherwise nothing is instrumented: spans nobody reads cost a worker ~10% of its CPU per turn
(docs/benchmarks.md). `TRACING=on|off` overrides the choice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import logfire
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.worker import WorkflowInterceptorClassInput

from services.common.settings import TelemetrySettings, load_settings
from services.common.turn_trace import PROPAGATOR, TURN_SPAN_EXTERN, TurnSpan

log = logging.getLogger(__name__)

# Ids that Logfire's scrubber would hide for the word "session" in them: they are what joins a
# turn's spans and logs, and hold no secret (the API key, the MCP token and user text are never
# attributes: services/worker/spans.py, and Redis commands are recorded without their args).
SAFE_ATTRIBUTES = frozenset({"session.id", "turn.id", "temporalWorkflowID", "temporalUpdateID"})

# Where OpenTelemetry's own exporters read their collector's address.
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


@dataclass(frozen=True)
class Telemetry:
    """What `setup_telemetry` turned on, for the parts it does not configure itself."""

    tracing: bool

    def temporal_interceptors(self) -> list[Interceptor]:
        """The Temporal client's interceptors: workflow and activity spans when tracing."""
        return [TurnTracingInterceptor()] if self.tracing else []


class TurnTracingInterceptor(TracingInterceptor):
    """Temporal's interceptor, plus the extern function that makes a turn's span in the
    workflow (services/common/turn_trace.py): made here, outside the workflow, as the
    interceptor makes its own workflow spans."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        input.unsafe_extern_functions[TURN_SPAN_EXTERN] = self._turn_span
        return super().workflow_interceptor_class(input)

    def _turn_span(self, turn: TurnSpan) -> dict[str, str]:
        parent = PROPAGATOR.extract(turn.carrier)
        span = self.tracer.start_span(
            turn.name, parent, attributes=turn.attributes, start_time=turn.time_ns
        )
        span.end(end_time=turn.time_ns)
        carrier: dict[str, str] = {}
        PROPAGATOR.inject(carrier, trace.set_span_in_context(span, parent))
        return carrier


def tracing_wanted(settings: TelemetrySettings, *, span_processors: bool = False) -> bool:
    """Whether spans have a destination (or the operator asked for them regardless)."""
    if settings.tracing != "auto":
        return settings.tracing == "on"
    return bool(
        span_processors
        or settings.logfire_token
        or os.environ.get("LOGFIRE_CONSOLE")
        or any(os.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)
    )


def setup_telemetry(
    service_name: str,
    *,
    app: Any | None = None,
    httpx: bool = False,
    redis: bool = False,
    system_metrics: bool = False,
    span_processors: Sequence[SpanProcessor] = (),
    settings: TelemetrySettings | None = None,
) -> Telemetry:
    """Configure Logfire for this process and instrument what the caller names, when tracing.

    `app` is a Starlette app to trace; `httpx` covers httpx and httpx2 (used by mistralai and the
    MCP client); `redis` traces Redis commands. With tracing off nothing is configured, so
    libraries that trace on their own (the Mistral SDK, the MCP SDK) use OpenTelemetry's no-op
    tracer.
    """
    settings = settings or load_settings(TelemetrySettings)
    if not tracing_wanted(settings, span_processors=bool(span_processors)):
        log.debug("tracing off for %s: no destination for spans", service_name)
        return Telemetry(tracing=False)
    # An exporter pointed at nothing would stall process exit for ~7 s.
    os.environ.setdefault("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
    logfire.configure(
        service_name=service_name,
        send_to_logfire="if-token-present",
        token=settings.logfire_token.get_secret_value() if settings.logfire_token else None,
        environment=settings.logfire_environment,
        console=logfire.ConsoleOptions() if os.environ.get("LOGFIRE_CONSOLE") else False,
        additional_span_processors=list(span_processors) or None,
        metrics=False if not system_metrics else None,
        inspect_arguments=False,
        # Every service continues the trace of whoever called it (the worker over MCP HTTP).
        distributed_tracing=True,
        scrubbing=logfire.ScrubbingOptions(callback=_keep_ids),
    )
    if app is not None:
        logfire.instrument_starlette(app)
        _without_message_spans(app)
    if httpx:
        logfire.instrument_httpx()
    if redis:
        logfire.instrument_redis()
    if system_metrics:
        logfire.instrument_system_metrics()
    log.debug("telemetry configured for %s", service_name)
    return Telemetry(tracing=True)


def _keep_ids(match: logfire.ScrubMatch) -> Any:
    """Keep a session or turn id that the default patterns matched; scrub anything else."""
    key = match.path[-1] if match.path else None
    return match.value if key in SAFE_ATTRIBUTES else None


def _without_message_spans(app: Any) -> None:
    """No span per ASGI send/receive: an SSE stream sends one message per event, and at a
    thousand viewers those spans were 7-13% of the gateway's CPU while saying nothing the
    request span does not (the Starlette instrumentor has no option for it)."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    for entry in getattr(app, "user_middleware", ()):
        if getattr(entry, "cls", None) is OpenTelemetryMiddleware:
            entry.kwargs["exclude_spans"] = ["send", "receive"]
