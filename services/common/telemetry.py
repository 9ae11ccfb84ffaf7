"""Tracing and logs through Logfire (OpenTelemetry), with no token and no network needed.

`setup_telemetry` is the one place a service turns telemetry on. With no `LOGFIRE_TOKEN` nothing
leaves the process (unless `OTEL_EXPORTER_OTLP_ENDPOINT` names a collector); tests pass their own
span processor (an in-memory exporter) or use logfire's `capfire` fixture.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import logfire
from opentelemetry.sdk.trace import SpanProcessor

from services.common.settings import TelemetrySettings, load_settings

log = logging.getLogger(__name__)


def setup_telemetry(
    service_name: str,
    *,
    app: Any | None = None,
    httpx: bool = False,
    redis: bool = False,
    system_metrics: bool = False,
    span_processors: Sequence[SpanProcessor] = (),
    settings: TelemetrySettings | None = None,
) -> logfire.Logfire:
    """Configure Logfire for this process and instrument what the caller names.

    `app` is a Starlette app to trace; `httpx` covers httpx and httpx2 (used by mistralai and the
    MCP client); `redis` traces Redis commands.
    """
    settings = settings or load_settings(TelemetrySettings)
    # An exporter pointed at nothing would stall process exit for ~7 s.
    os.environ.setdefault("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
    instance = logfire.configure(
        service_name=service_name,
        send_to_logfire="if-token-present",
        token=settings.logfire_token.get_secret_value() if settings.logfire_token else None,
        environment=settings.logfire_environment,
        console=logfire.ConsoleOptions() if os.environ.get("LOGFIRE_CONSOLE") else False,
        additional_span_processors=list(span_processors) or None,
        metrics=False if not system_metrics else None,
        inspect_arguments=False,
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
    return instance


def _without_message_spans(app: Any) -> None:
    """No span per ASGI send/receive: an SSE stream sends one message per event, and at a
    thousand viewers those spans were 7-13% of the gateway's CPU while saying nothing the
    request span does not (the Starlette instrumentor has no option for it)."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    for entry in getattr(app, "user_middleware", ()):
        if getattr(entry, "cls", None) is OpenTelemetryMiddleware:
            entry.kwargs["exclude_spans"] = ["send", "receive"]
