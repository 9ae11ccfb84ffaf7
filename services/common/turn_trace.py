"""One trace per turn: the workflow side of carrying a turn's trace context.

The gateway puts the submitting request's W3C context into `TurnRequest.trace_context`. Temporal's
TracingInterceptor makes every workflow span a child of the *current* OpenTelemetry context, which
inside a session workflow is the `POST` that started the workflow: without help every turn's
activities would land in that first request's trace. `turn_context` attaches the turn's context
(extracted into the current one, so the interceptor's own context key stays) around a turn's work;
the workflow's `RunTurn` span is made through an extern function the worker's interceptor
registers (services/common/telemetry.py), never while replaying, so a worker that replays a
history adds no span twice. Everything here is a no-op when the worker traces nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Protocol, cast

from opentelemetry import context as otel_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from temporalio import workflow

# The extern function's name; registered only by a worker whose interceptor traces.
TURN_SPAN_EXTERN = "durable_agents_turn_span"
PROPAGATOR = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class TurnSpan:
    """A zero-length workflow span (replay-safe, as the interceptor's own spans are)."""

    name: str
    carrier: dict[str, str]
    attributes: dict[str, str]
    time_ns: int


class MakeTurnSpan(Protocol):
    def __call__(self, span: TurnSpan) -> dict[str, str]: ...


def _tracing() -> MakeTurnSpan | None:
    return cast("MakeTurnSpan | None", workflow.extern_functions().get(TURN_SPAN_EXTERN))


def current_carrier() -> dict[str, str]:
    """The current context as W3C headers, for work done later (an outbox item)."""
    carrier: dict[str, str] = {}
    if _tracing() is not None:
        PROPAGATOR.inject(carrier)
    return carrier


@contextmanager
def attached(carrier: Mapping[str, str]) -> Iterator[None]:
    """Run the block in the context `carrier` names (nothing when it names none)."""
    if not carrier or _tracing() is None:
        yield
        return
    context = PROPAGATOR.extract(dict(carrier), context=otel_context.get_current())
    token = otel_context.attach(context)
    try:
        yield
    finally:
        # An evicted workflow's block may end in another contextvars.Context: nothing to undo.
        with suppress(ValueError):
            token.var.reset(token)


@contextmanager
def turn_context(carrier: Mapping[str, str], session_id: str, turn_id: str) -> Iterator[None]:
    """The turn's trace around its work: a `RunTurn` span under the request that submitted it
    (only when not replaying), the turn's activities and events under that."""
    maker = _tracing()
    if maker is None or not carrier:
        yield
        return
    with attached(carrier):
        if workflow.unsafe.is_replaying():
            yield  # the span exists already; what runs live from here joins the request's trace
            return
        inner: dict[str, str] = {}
        PROPAGATOR.inject(inner)
        span = TurnSpan(
            name="RunTurn",
            carrier=inner,
            attributes={"session.id": session_id, "turn.id": turn_id},
            time_ns=workflow.time_ns(),
        )
        with attached(maker(span)):
            yield
