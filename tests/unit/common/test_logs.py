from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from services.common.logs import REDACTED, JsonFormatter, TextFormatter, log_context, secret_values


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(
        "services.worker.activities", logging.INFO, __file__, 1, message, args, None
    )


def test_a_line_names_the_session_turn_and_trace() -> None:
    formatter = JsonFormatter("worker", secrets=[])
    tracer = TracerProvider().get_tracer("test")
    with (
        tracer.start_as_current_span("RunActivity:call_tool") as span,
        log_context("ses_1", "turn_1"),
    ):
        line = json.loads(formatter.format(record("tool %s answered", "log_meal")))
    assert line["message"] == "tool log_meal answered"
    assert (line["service"], line["level"], line["session_id"], line["turn_id"]) == (
        "worker",
        "info",
        "ses_1",
        "turn_1",
    )
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    outside = json.loads(formatter.format(record("idle")))
    assert "session_id" not in outside
    assert "trace_id" not in outside


def test_secrets_from_the_environment_never_reach_a_line() -> None:
    environ = {
        "MISTRAL_API_KEY": "mistral-secret-123",
        "MCP_AUTH_TOKEN": "mcp-token-4567890",
        "GATEWAY_API_KEYS": "gw-key-abcdefgh:acme,gw-key-ijklmnop:other",
        "LOG_FORMAT": "json",
    }
    secrets = secret_values(environ)
    assert set(secrets) == {
        "mistral-secret-123",
        "mcp-token-4567890",
        "gw-key-abcdefgh",
        "gw-key-ijklmnop",
    }
    for formatter in (JsonFormatter("gateway", secrets), TextFormatter("gateway", secrets)):
        text = formatter.format(record("headers %s and %s", "Bearer gw-key-abcdefgh", environ))
        assert not [s for s in secrets if s in text], text
        assert REDACTED in text
        assert "acme" in text  # a tenant name is no secret
