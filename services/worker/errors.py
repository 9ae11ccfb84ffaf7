"""The worker's error vocabulary: what a failed step says and what a failed turn tells clients.

Activities (and the workflow's own checks) fail with an `ApplicationError` whose `type` is one
of `StepErrors`; the retry policies (services/worker/session_limits.py) and the session
workflow act on it, and `turn_error` turns it into the `code` a client reads in `turn.failed`
(services/common/sessions.py `TurnError`) and in the turn's record. The type strings are written
into workflow histories, so they never change, whatever their spelling.
"""

from __future__ import annotations

from typing import Final

from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

from services.common.sessions import TurnError


class StepErrors:
    """`ApplicationError.type` of a failed step."""

    MODEL_RATE_LIMITED = "ModelRateLimited"  # 429: retried after Retry-After
    MODEL_REJECTED = "ModelRequestRejected"  # other 4xx: retrying cannot help
    MODEL_UNAVAILABLE = "ModelUnavailable"  # 5xx, 409, connection failures, dropped streams
    MODEL_STREAM_ERROR = "ModelStreamError"  # conversation.response.error mid-stream
    # 404s that a session mends by itself (a new conversation, the team registered again).
    CONVERSATION_LOST = "ConversationLost"
    AGENT_LOST = "AgentLost"
    TOOL_UNAVAILABLE = "ToolUnavailable"  # the tool's MCP server did not answer
    UNKNOWN_TEAM = "UnknownAgentTeam"  # no team file of that name on this worker
    TEAM_REGISTRATION_FAILED = "RosterFailed"  # the roster workflow could not register it
    TEAM_UNAVAILABLE = "agent_unavailable"  # the session waited for its team in vain
    STEP_LIMIT = "step_limit"  # the agents kept asking for tools without answering


class TurnErrorCodes:
    """`error.code` of a failed turn, as clients read it."""

    MODEL_REJECTED = "model_rejected"
    MODEL_RATE_LIMITED = "model_rate_limited"
    MODEL_UNAVAILABLE = "model_unavailable"
    MODEL_ERROR = "model_error"
    CONVERSATION_LOST = "conversation_lost"
    AGENT_UNAVAILABLE = "agent_unavailable"
    TOOL_UNAVAILABLE = "tool_unavailable"
    STEP_LIMIT = "step_limit"
    ERROR = "error"  # anything else; the message says what


def cause_text(error: BaseException) -> str:
    """An exception as a message names it: its type, and its text when it has one (a timeout
    has none: "TimeoutError", not "TimeoutError: ")."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


_CODES: Final[dict[str, str]] = {
    StepErrors.MODEL_REJECTED: TurnErrorCodes.MODEL_REJECTED,
    StepErrors.MODEL_RATE_LIMITED: TurnErrorCodes.MODEL_RATE_LIMITED,
    StepErrors.MODEL_UNAVAILABLE: TurnErrorCodes.MODEL_UNAVAILABLE,
    StepErrors.MODEL_STREAM_ERROR: TurnErrorCodes.MODEL_ERROR,
    StepErrors.CONVERSATION_LOST: TurnErrorCodes.CONVERSATION_LOST,
    StepErrors.AGENT_LOST: TurnErrorCodes.AGENT_UNAVAILABLE,
    StepErrors.TOOL_UNAVAILABLE: TurnErrorCodes.TOOL_UNAVAILABLE,
    StepErrors.UNKNOWN_TEAM: TurnErrorCodes.AGENT_UNAVAILABLE,
    StepErrors.TEAM_REGISTRATION_FAILED: TurnErrorCodes.AGENT_UNAVAILABLE,
    StepErrors.TEAM_UNAVAILABLE: TurnErrorCodes.AGENT_UNAVAILABLE,
    StepErrors.STEP_LIMIT: TurnErrorCodes.STEP_LIMIT,
}


# A step that ran out of time, by activity (services/worker/activities.py): who did not answer.
_TIMED_OUT: Final[dict[str, tuple[str, str]]] = {
    "converse": (TurnErrorCodes.MODEL_UNAVAILABLE, "the model did not answer in time"),
    "call_tool": (TurnErrorCodes.TOOL_UNAVAILABLE, "the tool did not answer in time"),
}


def turn_error(err: BaseException) -> TurnError:
    """How a failed step is told to the client: a code from `TurnErrorCodes` and a message."""
    cause = err.cause if isinstance(err, ActivityError) and err.cause is not None else err
    if isinstance(cause, ApplicationError):
        code = _CODES.get(cause.type or "", TurnErrorCodes.ERROR)
        return TurnError(code=code, message=cause.message)
    if isinstance(cause, TimeoutError) and isinstance(err, ActivityError):
        code, message = _TIMED_OUT.get(
            err.activity_type or "", (TurnErrorCodes.ERROR, "a step did not finish in time")
        )
        return TurnError(code=code, message=f"{message} ({cause.message})")
    return TurnError(code=TurnErrorCodes.ERROR, message=str(cause))
