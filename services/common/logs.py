"""Logs: one line per event worth logging, in JSON (or text for a console), set up once.

Each line carries the service, the OpenTelemetry `trace_id`/`span_id` when a span is current,
and the `session_id`/`turn_id` that the code handling a request or an activity put in
`log_context`, so logs and traces join. `LOG_FORMAT=json|text` picks the form: JSON by default
(the image and Compose), text where `make dev` prints to a console (scripts/stack/local.py).
Values of the secrets the process was given (API keys, the MCP token, the Logfire token) are
replaced before a line is written, whoever logged them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

SESSION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("session_id", default=None)
TURN_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("turn_id", default=None)
# Variables whose values never reach a log line (GATEWAY_API_KEYS: `key:tenant,...`).
SECRET_VARIABLES = ("MISTRAL_API_KEY", "MCP_AUTH_TOKEN", "LOGFIRE_TOKEN", "GATEWAY_API_KEYS")
REDACTED = "[redacted]"
ACCESS = ("uvicorn.access", "gunicorn.access")
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn.error", "gunicorn.access")
# Shortest value treated as a secret: shorter ones would blank ordinary words.
MIN_SECRET_CHARS = 8
# The record's own fields: anything else a caller passed in `extra=` goes into the line.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's message again, with terminal colours
}


def set_ids(session_id: str | None = None, turn_id: str | None = None) -> None:
    """Name the session and turn for the rest of this task's log lines."""
    if session_id:
        SESSION_ID.set(session_id)
    if turn_id:
        TURN_ID.set(turn_id)


@contextmanager
def log_context(session_id: str | None = None, turn_id: str | None = None) -> Iterator[None]:
    """Name the session and turn on the block's log lines."""
    tokens = (SESSION_ID.set(session_id), TURN_ID.set(turn_id))
    try:
        yield
    finally:
        TURN_ID.reset(tokens[1])
        SESSION_ID.reset(tokens[0])


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    environ = dict(os.environ) if environ is None else environ
    found: list[str] = []
    for name in SECRET_VARIABLES:
        value = environ.get(name, "")
        parts = (
            [p.split(":", 1)[0] for p in value.split(",")]
            if name == "GATEWAY_API_KEYS"
            else [value]
        )
        found += [p.strip() for p in parts if len(p.strip()) >= MIN_SECRET_CHARS]
    return sorted(set(found), key=len, reverse=True)


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _ids(record: logging.LogRecord) -> dict[str, str]:
    ids: dict[str, str] = {}
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        ids["trace_id"] = format(span.trace_id, "032x")
        ids["span_id"] = format(span.span_id, "016x")
    for name, var in (("session_id", SESSION_ID), ("turn_id", TURN_ID)):
        value = getattr(record, name, None) or var.get()
        if value:
            ids[name] = str(value)
    return ids


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, service, logger, message, the ids, extras."""

    def __init__(self, service: str, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.service = service
        self.secrets = secret_values() if secrets is None else secrets

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            **_ids(record),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _redact(json.dumps(line, default=str, ensure_ascii=False), self.secrets)


class TextFormatter(logging.Formatter):
    """A console line: time, level, logger, message, and the ids when there are any."""

    def __init__(self, service: str, secrets: list[str] | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.secrets = secret_values() if secrets is None else secrets

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in _ids(record).items() if k != "span_id")
        text = super().format(record) + (f" [{ids}]" if ids else "")
        return _redact(text, self.secrets)


def make_formatter(service: str, form: str = "json") -> logging.Formatter:
    return TextFormatter(service) if form == "text" else JsonFormatter(service)


def log_format() -> str:
    form = os.environ.get("LOG_FORMAT", "json").strip().lower()
    return form if form in ("json", "text") else "json"


def log_config(service: str, level: str | int = "INFO", *, access: bool = True) -> dict[str, Any]:
    """A `logging.config.dictConfig` for `service`; uvicorn and gunicorn take it as theirs, so
    their lines (access logs, unless `access` is false) come out in the same form."""
    level = logging.getLevelName(level) if isinstance(level, int) else level.upper()
    # Their own handler, not the root's: gunicorn's uvicorn worker copies these loggers'
    # handlers onto uvicorn's and stops propagation (uvicorn_worker).
    own = {"handlers": ["default"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": {"()": make_formatter, "service": service, "form": log_format()}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "service",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            **{name: dict(own) for name in SERVER_LOGGERS},
            **({} if access else {name: {"handlers": [], "propagate": False} for name in ACCESS}),
            # One line per HTTP call to the model or an MCP server is noise, not an event.
            **{name: {"level": "WARNING"} for name in ("httpx", "httpx2")},
        },
    }


def setup_logging(service: str, level: str | int = "INFO") -> None:
    """Configure this process's logging once (each service's entry point calls it)."""
    logging.config.dictConfig(log_config(service, level))
