"""A turn's ids on the worker's spans, and the span of one model call with the OpenTelemetry
GenAI attributes an operator reads.

A child of the `converse` activity's span and the parent of the HTTP call to Mistral (or the
simulator). It names the agent, model, conversation, token usage and outcome; never the prompt,
the user's input or the answer. A no-op while the worker traces nothing
(services/common/telemetry.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from temporalio.exceptions import ApplicationError

from services.common.logs import set_ids
from services.common.sessions import TurnUsage
from services.worker.activity_types import ConverseInput

TRACER = trace.get_tracer("services.worker")


@contextmanager
def model_span(step: ConverseInput, model: str | None = None) -> Iterator[Span]:
    """A span around one model round trip (`model`: the one asked for, when known); an error
    ends it with its type."""
    agent = step.agent_names.get(step.entry_agent_id, step.entry_agent_id)
    attributes = {
        "gen_ai.system": "mistral_ai",
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.id": step.entry_agent_id,
        "gen_ai.agent.name": agent,
        "session.id": step.context.session_id,
        "turn.id": step.context.turn_id,
    }
    if step.conversation_id:
        attributes["gen_ai.conversation.id"] = step.conversation_id
    if model:
        attributes["gen_ai.request.model"] = model
    with TRACER.start_as_current_span(
        f"invoke_agent {agent}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            kind = exc.type if isinstance(exc, ApplicationError) and exc.type else type(exc)
            error = kind if isinstance(kind, str) else kind.__name__
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, error))
            raise


def record_answer(
    span: Span, *, model: str | None, conversation_id: str | None, usage: TurnUsage
) -> None:
    """What the model said about itself: which model answered, and the tokens it counted."""
    if not span.is_recording():
        return
    if model:
        span.set_attribute("gen_ai.response.model", model)
    if conversation_id:
        span.set_attribute("gen_ai.conversation.id", conversation_id)
    span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
    span.set_status(Status(StatusCode.OK))


def mark_turn(session_id: str, turn_id: str | None, *, event: str | None = None) -> None:
    """Name the session and turn (and the event published) on the current span, an
    activity's, when one records, and on the activity's log lines."""
    set_ids(session_id, turn_id)
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("session.id", session_id)
        if turn_id:
            span.set_attribute("turn.id", turn_id)
        if event:
            span.set_attribute("event.type", event)
