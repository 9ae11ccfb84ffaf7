"""The Mistral side: one shared SDK client per worker process, and what its errors mean.

SDK retries stay off: Temporal retries each step, and a retried step restarts the conversation
instead of appending twice (see converse.py). Errors become `ApplicationError`s whose type and
retryability the workflow and Temporal's retry policy act on.
"""

from __future__ import annotations

import email.utils
import math
import time
from datetime import UTC, timedelta

import httpx2
from mistralai.client import Mistral
from mistralai.client.errors import MistralError
from temporalio.exceptions import ApplicationError

from services.worker import sdk_models
from services.worker.errors import StepErrors, cause_text
from services.worker.settings import WorkerSettings


def lost(error: BaseException, what: str) -> ApplicationError | None:
    """A Mistral 404 as the loss of `what` ("conversation" or "agent"), else None."""
    if not (isinstance(error, MistralError) and error.status_code == 404):
        return None
    kind = StepErrors.CONVERSATION_LOST if what == "conversation" else StepErrors.AGENT_LOST
    return ApplicationError(
        f"Mistral no longer knows the session's {what}: {_summary(error)}",
        {"status": 404},
        type=kind,
        non_retryable=True,  # retrying the same request cannot help; the workflow mends it
    )


NON_RETRYABLE_STATUSES = frozenset({400, 401, 403, 404, 422})
# The longest wait a Retry-After gets: a step retried after it, six attempts at most
# (session_limits.MODEL_RETRY), keeps a person waiting a few minutes, never a day.
MAX_RETRY_AFTER_S = 60.0


def make_client(settings: WorkerSettings) -> Mistral:
    sdk_models.install()
    return Mistral(
        api_key=settings.mistral_key,
        server_url=settings.mistral_url,
        timeout_ms=int(settings.model_read_timeout_s * 1000),
    )


def retry_after(headers: httpx2.Headers) -> timedelta | None:
    """The wait a Retry-After header asks for (seconds or an HTTP date, at most
    MAX_RETRY_AFTER_S), None when it names none.

    A header that is neither must not turn a 429 into a crash of its classification.
    """
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (ValueError, TypeError):
            return None
        if parsed.tzinfo is None:  # "-0000" or no zone: an HTTP date is GMT, not local time
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp() - time.time()
    try:
        wait = min(max(0.0, seconds), MAX_RETRY_AFTER_S)
        return timedelta(seconds=wait) if math.isfinite(seconds) else None
    except OverflowError:
        return None


def _summary(error: MistralError) -> str:
    body = (error.body or "").strip().replace("\n", " ")
    return f"Mistral answered HTTP {error.status_code}" + (f": {body[:300]}" if body else "")


def classify(error: BaseException) -> ApplicationError:
    """The `ApplicationError` a Mistral failure becomes (non-retryable for 4xx that won't mend)."""
    if isinstance(error, MistralError):
        status = error.status_code
        details = {"status": status}
        if status == 429:
            return ApplicationError(
                _summary(error),
                details,
                type=StepErrors.MODEL_RATE_LIMITED,
                next_retry_delay=retry_after(error.headers) or timedelta(seconds=1),
            )
        if status in NON_RETRYABLE_STATUSES:
            return ApplicationError(
                _summary(error), details, type=StepErrors.MODEL_REJECTED, non_retryable=True
            )
        return ApplicationError(_summary(error), details, type=StepErrors.MODEL_UNAVAILABLE)
    if isinstance(error, httpx2.HTTPError | OSError | TimeoutError):
        return ApplicationError(
            f"Mistral could not be reached or dropped the stream: {cause_text(error)}",
            type=StepErrors.MODEL_UNAVAILABLE,
        )
    return ApplicationError(cause_text(error), type=StepErrors.MODEL_UNAVAILABLE)


WARM_MODELS = (
    "ConversationEvents",
    "ResponseStartedEvent",
    "MessageOutputEvent",
    "FunctionCallEvent",
    "AgentHandoffStartedEvent",
    "AgentHandoffDoneEvent",
    "ToolExecutionStartedEvent",
    "ToolExecutionDoneEvent",
    "ResponseDoneEvent",
    "ResponseErrorEvent",
    "FunctionResultEntry",
)


def warm_up(client: Mistral) -> None:
    """The SDK imports lazily (~0.9 s on first use): pay that at start, not on a first turn."""
    from mistralai.client import models

    _ = client.beta.conversations, client.beta.agents
    for name in WARM_MODELS:
        getattr(models, name)
