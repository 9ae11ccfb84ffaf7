"""The worker's error vocabulary (services/worker/errors.py): every step error a client can meet
becomes one of the documented turn error codes, never an internal type name."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from services.worker.errors import StepErrors, TurnErrorCodes, turn_error

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


def test_an_activity_failure_is_told_by_its_cause() -> None:
    cause = ApplicationError("MCP did not answer", type=StepErrors.TOOL_UNAVAILABLE)
    wrapped = ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="w",
        activity_type="call_tool",
        activity_id="1",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )
    wrapped.__cause__ = cause
    error = turn_error(wrapped)
    assert (error.code, error.message) == ("tool_unavailable", "MCP did not answer")


def test_unknown_failures_are_errors_with_their_message() -> None:
    assert turn_error(ApplicationError("odd", type="SomethingNew")).code == "error"
    plain = turn_error(RuntimeError("boom"))
    assert (plain.code, plain.message) == ("error", "boom")
