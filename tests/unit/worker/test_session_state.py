"""How a failed step is told as a turn error (session_state.turn_error), and shortened texts."""

from __future__ import annotations

import pytest
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    RetryState,
    TimeoutError,
    TimeoutType,
)

from services.common.sessions import TurnError
from services.worker.activities import ActivityErrors
from services.worker.model import ModelErrors
from services.worker.session_state import shortened, turn_error


def activity_error(cause: BaseException | None) -> ActivityError:
    """A regular activity's failure as the workflow receives it: around its last failure."""
    error = ActivityError(
        "Activity task failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker-1",
        activity_type="converse",
        activity_id="1",
        retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED,
    )
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (ModelErrors.REJECTED, "model_rejected"),
        (ModelErrors.RATE_LIMITED, "model_rate_limited"),
        (ModelErrors.UNAVAILABLE, "model_unavailable"),
        (ModelErrors.STREAM_ERROR, "model_error"),
        (ModelErrors.CONVERSATION_LOST, "conversation_lost"),
        (ModelErrors.AGENT_LOST, "agent_unavailable"),
        (ActivityErrors.TOOL_UNAVAILABLE, "tool_unavailable"),
    ],
)
def test_a_known_failure_gets_its_code_and_the_causes_message(kind: str, code: str) -> None:
    cause = ApplicationError("Mistral answered HTTP 503: overloaded", type=kind)
    assert turn_error(activity_error(cause)) == TurnError(
        code, "Mistral answered HTTP 503: overloaded"
    )


def test_a_local_activitys_failure_is_its_cause_itself() -> None:
    cause = ApplicationError("Mistral answered HTTP 429", type=ModelErrors.RATE_LIMITED)
    assert turn_error(cause) == TurnError("model_rate_limited", "Mistral answered HTTP 429")


def test_another_application_error_keeps_its_type_as_the_code() -> None:
    # session_team.py raises type="agent_unavailable" itself; it passes through unchanged.
    team = ApplicationError("the agent team 'x' could not be registered", type="agent_unavailable")
    assert turn_error(team) == TurnError(
        "agent_unavailable", "the agent team 'x' could not be registered"
    )
    roster = ApplicationError("registering the agent team failed: boom", type="RosterFailed")
    assert turn_error(activity_error(roster)).code == "RosterFailed"
    untyped = ApplicationError("no type")
    assert turn_error(activity_error(untyped)) == TurnError("error", "no type")


def test_a_failure_that_is_no_application_error_is_a_plain_error() -> None:
    timeout = TimeoutError(
        "activity StartToClose timeout", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]
    )
    assert turn_error(activity_error(timeout)) == TurnError(
        "error", "activity StartToClose timeout"
    )
    assert turn_error(activity_error(CancelledError("Cancelled"))) == TurnError(
        "error", "Cancelled"
    )
    assert turn_error(ValueError("bad value")) == TurnError("error", "bad value")


def test_an_activity_error_without_a_cause_speaks_for_itself() -> None:
    assert turn_error(activity_error(None)) == TurnError("error", "Activity task failed")


def test_shortened_keeps_the_limit_with_an_ellipsis() -> None:
    assert shortened("abc", 3) == "abc"
    assert shortened("abcd", 3) == "ab\u2026"
    assert len(shortened("x" * 5000, 1000)) == 1000
    assert shortened("", 1) == ""
