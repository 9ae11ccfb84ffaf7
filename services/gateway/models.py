"""Request and response bodies (pydantic): the validation and the OpenAPI schemas in one place."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.common.sessions import MAX_INPUT_CHARS
from services.gateway.ids import SESSION_ID_PATTERN

MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]


class _Body(BaseModel):
    # Unknown fields are an error (a typo such as `on_bussy` must not pass silently), and
    # nothing is coerced: `"approve": "y"` is not a boolean.
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateSession(_Body):
    """Start a session. Everything is optional."""

    agent: str = Field(default="nutrisense", min_length=1, max_length=64)
    user_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict, max_length=32)
    timezone: str | None = Field(default=None, min_length=1, max_length=64, examples=["UTC"])

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except Exception:  # ValueError, ZoneInfoNotFoundError, or a path-like name
            raise ValueError("not an IANA time zone name (e.g. Europe/Paris)") from None
        return value


class SendMessage(_Body):
    """A user message: one turn of the conversation."""

    input: str = Field(min_length=1, max_length=MAX_INPUT_CHARS)
    on_busy: Literal["enqueue", "reject", "interrupt"] = "enqueue"

    @field_validator("input")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("input must not be blank")
        return value


class CancelBody(_Body):
    reason: str | None = Field(default=None, max_length=2000)


class ApprovalBody(_Body):
    approve: bool
    reason: str | None = Field(default=None, max_length=2000)


class SessionCreated(BaseModel):
    session_id: str
    agent: str
    user_id: str
    events_url: str
    messages_url: str


class TurnAccepted(BaseModel):
    turn_id: str
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    position: int | None
    duplicate: bool
    interrupted: list[str]
    events_url: str


class CancelAccepted(BaseModel):
    turn_id: str
    status: Literal["queued", "running", "completed", "failed", "cancelled"]


class TurnUsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class TurnErrorOut(BaseModel):
    code: str
    message: str


TurnStatusOut = Literal["queued", "running", "completed", "failed", "cancelled"]


class ToolCallOut(BaseModel):
    """One function call of a turn. Arguments and result are shortened (to 1,000 and 2,000
    characters) and a turn keeps its first 16 calls."""

    name: str
    arguments: dict[str, Any] | str = Field(
        description="The arguments as an object; as the model's text when that is not a JSON "
        "object (or was shortened)"
    )
    result: str | None = Field(description="The tool's result; null when it failed")
    error: str | None = Field(
        description="Why the call failed, was refused or did not run; null when it succeeded"
    )


class TurnOut(BaseModel):
    turn_id: str
    status: TurnStatusOut
    submitted_at: str
    input: str = Field(description="What the user said")
    started_at: str | None
    finished_at: str | None
    output: str | None
    usage: TurnUsageOut | None
    error: TurnErrorOut | None
    steps: int
    agent: str | None
    tool_calls: list[ToolCallOut]


class SessionOut(BaseModel):
    session_id: str
    tenant_id: str
    user_id: str
    agent: str
    state: Literal["open", "ended"]
    created_at: str
    running_turn: str | None
    queued_turns: list[str]
    turns: list[TurnOut]
    metadata: dict[str, str]
    pending_approvals: list[dict[str, Any]]
    conversation_id: str | None = Field(
        description="The Mistral conversation the next turn continues"
    )


class SessionSummaryOut(BaseModel):
    session_id: str
    agent: str
    user_id: str | None
    created_at: str = Field(description="RFC 3339, UTC")
    status: Literal["active", "ended"]
    title: str | None = Field(
        description="The session's first message, on one line, at most 80 characters; null "
        "before the first message"
    )


class SessionList(BaseModel):
    """The tenant's sessions, newest first."""

    sessions: list[SessionSummaryOut]
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page"
    )


class TranscriptTurnOut(BaseModel):
    turn_id: str
    input: str = Field(description="What the user said")
    output: str | None = Field(description="The final answer; null until the turn completes")
    status: TurnStatusOut
    agent: str | None = Field(description="The agent that gave the answer")
    tool_calls: list[ToolCallOut]
    error: TurnErrorOut | None
    created_at: str | None = Field(description="When the turn was submitted (RFC 3339)")
    completed_at: str | None = Field(description="When the turn ended, however it ended")


class TranscriptOut(BaseModel):
    """A page of the session's turns, oldest first."""

    turns: list[TranscriptTurnOut]
    next_before: str | None = Field(
        description="Pass as `before` for the page of older turns; null when there are none"
    )


class Health(BaseModel):
    status: Literal["ok"]
    checks: dict[str, str] = Field(default_factory=dict)


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    turn_id: str | None = Field(
        default=None,
        description="On a 5xx answer to a message: the turn the session may have queued "
        "(the submit timed out or was cut off). A 5xx without it means: not queued.",
    )
    idempotency_key: str | None = Field(
        default=None,
        description="With `turn_id`: send the same request again with this `Idempotency-Key` "
        "(also in the response header of that name) to get that turn; it never runs twice.",
    )
