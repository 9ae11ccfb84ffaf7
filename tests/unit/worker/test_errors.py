"""The worker's error vocabulary (services/worker/errors.py): every step error a client can meet
becomes one of the documented turn error codes with the cause's message, never an internal type
name."""

from __future__ import annotations

import builtins

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
from services.worker.errors import StepErrors, TurnErrorCodes, cause_text, turn_error

_STEP_TYPES = [v for k, v in vars(StepErrors).items() if k.isupper()]
_CODES = {v for k, v in vars(TurnErrorCodes).items() if k.isupper()}


@pytest.mark.parametrize("kind", _STEP_TYPES)
def test_every_step_error_is_told_with_a_turn_error_code(kind: str) -> None:
    error = turn_error(ApplicationError("what happened", type=kind))
    assert error.code in _CODES
    assert error.code != TurnErrorCodes.ERROR
    assert error.message == "what happened"


def test_the_team_failures_all_read_agent_unavailable() -> None:
    for kind in (
        StepErrors.UNKNOWN_TEAM,
        StepErrors.TEAM_REGISTRATION_FAILED,
        StepErrors.TEAM_UNAVAILABLE,
        StepErrors.AGENT_LOST,
    ):
        assert turn_error(ApplicationError("x", type=kind)).code == "agent_unavailable"


def test_unknown_failures_are_errors_with_their_message() -> None:
    assert turn_error(ApplicationError("odd", type="SomethingNew")).code == "error"
    plain = turn_error(RuntimeError("boom"))
    assert (plain.code, plain.message) == ("error", "boom")


def activity_error(cause: BaseException | None, activity_type: str = "converse") -> ActivityError:
    """A regular activity's failure as the workflow receives it: around its last failure."""
    error = ActivityError(
        "Activity task failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker-1",
        activity_type=activity_type,
        activity_id="1",
        retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED,
    )
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (StepErrors.MODEL_REJECTED, "model_rejected"),
        (StepErrors.MODEL_RATE_LIMITED, "model_rate_limited"),
        (StepErrors.MODEL_UNAVAILABLE, "model_unavailable"),
        (StepErrors.MODEL_STREAM_ERROR, "model_error"),
        (StepErrors.CONVERSATION_LOST, "conversation_lost"),
        (StepErrors.AGENT_LOST, "agent_unavailable"),
        (StepErrors.TOOL_UNAVAILABLE, "tool_unavailable"),
    ],
)
def test_a_known_failure_gets_its_code_and_the_causes_message(kind: str, code: str) -> None:
    cause = ApplicationError("Mistral answered HTTP 503: overloaded", type=kind)
    assert turn_error(activity_error(cause)) == TurnError(
        code=code, message="Mistral answered HTTP 503: overloaded"
    )


def test_a_local_activitys_failure_is_its_cause_itself() -> None:
    cause = ApplicationError("Mistral answered HTTP 429", type=StepErrors.MODEL_RATE_LIMITED)
    assert turn_error(cause) == TurnError(
        code="model_rate_limited", message="Mistral answered HTTP 429"
    )


def test_an_untyped_application_error_is_a_plain_error_with_its_message() -> None:
    untyped = ApplicationError("no type")
    assert turn_error(activity_error(untyped)) == TurnError(code="error", message="no type")


@pytest.mark.parametrize(
    ("activity_type", "code", "who"),
    [
        ("converse", "model_unavailable", "the model"),
        ("call_tool", "tool_unavailable", "the tool"),
        ("resolve_roster", "error", "a step"),
    ],
)
def test_a_step_out_of_time_names_who_did_not_answer(
    activity_type: str, code: str, who: str
) -> None:
    timeout = TimeoutError(
        "activity StartToClose timeout", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]
    )
    error = turn_error(activity_error(timeout, activity_type))
    expected = f"{who} did not {'finish' if code == 'error' else 'answer'} in time"
    assert error == TurnError(code=code, message=f"{expected} (activity StartToClose timeout)")


def test_a_failure_that_is_no_application_error_is_a_plain_error() -> None:
    assert turn_error(activity_error(CancelledError("Cancelled"))) == TurnError(
        code="error", message="Cancelled"
    )
    assert turn_error(ValueError("bad value")) == TurnError(code="error", message="bad value")


def test_an_activity_error_without_a_cause_speaks_for_itself() -> None:
    assert turn_error(activity_error(None)) == TurnError(
        code="error", message="Activity task failed"
    )


def test_an_exception_is_named_by_its_type_and_its_text_if_any() -> None:
    assert cause_text(ValueError("bad value")) == "ValueError: bad value"
    assert cause_text(builtins.TimeoutError()) == "TimeoutError"
