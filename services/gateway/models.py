"""Request and response bodies (pydantic): the validation and the OpenAPI schemas in one place.

A response that tells what the session said is a view of the shared contract's model
(services/common/sessions.py): built by validating the session's answer, and told as the view's
serializers say. So the document, the gateway and the worker spell each shape once, and a field
the contract keeps for the worker (`SessionStatus.conversation_id`) is not in any view.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    field_validator,
)

from services.common.sessions import (
    MAX_INPUT_CHARS,
    CancelReceipt,
    OnBusy,
    SessionView,
    ToolCallRecord,
    TranscriptPage,
    TurnError,
    TurnReceipt,
    TurnRecord,
    TurnStatus,
)
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
    on_busy: OnBusy = "enqueue"

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


class TurnAccepted(TurnReceipt):
    """Where the turn stands, and where to read its events."""

    events_url: str

    @classmethod
    def of(cls, receipt: TurnReceipt, events_url: str) -> TurnAccepted:
        return cls.model_validate({**receipt.model_dump(), "events_url": events_url})


class CancelAccepted(CancelReceipt):
    """The turn's status once the session took the cancel."""

    @classmethod
    def of(cls, receipt: CancelReceipt) -> CancelAccepted:
        return cls.model_validate(receipt, from_attributes=True)


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

    @field_validator("arguments", mode="before")
    @classmethod
    def _as_object(cls, value: Any) -> Any:
        """The model's arguments (JSON text) as an object when they are one."""
        if not isinstance(value, str):
            return value
        try:
            parsed = json.loads(value) if value else {}
        except ValueError:
            return value
        return parsed if isinstance(parsed, dict) else value

    @classmethod
    def of(cls, call: ToolCallRecord) -> ToolCallOut:
        return cls.model_validate(call, from_attributes=True)


class TurnOut(TurnRecord):
    """A turn: its input, status, answer, usage and function calls."""

    @field_serializer("tool_calls")
    def _tool_calls(self, calls: list[ToolCallRecord]) -> list[ToolCallOut]:
        return [ToolCallOut.of(call) for call in calls]


# SessionView's fields and never the worker's own (SessionStatus has more): `of` reads only
# these from the session's answer.
class SessionOut(SessionView):
    """The session's status and the turns it keeps."""

    @field_serializer("turns")
    def _turns(self, turns: list[TurnRecord]) -> list[TurnOut]:
        return [TurnOut.model_validate(turn, from_attributes=True) for turn in turns]

    @classmethod
    def of(cls, status: SessionView) -> SessionOut:
        return cls.model_validate(status, from_attributes=True)


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
    """A turn of the transcript: what was said and done."""

    turn_id: str
    input: str = Field(description="What the user said")
    output: str | None = Field(description="The final answer; null until the turn completes")
    status: TurnStatus
    agent: str | None = Field(description="The agent that gave the answer")
    tool_calls: list[ToolCallOut]
    error: TurnError | None
    created_at: str | None = Field(
        validation_alias="submitted_at", description="When the turn was submitted (RFC 3339)"
    )
    completed_at: str | None = Field(
        validation_alias="finished_at", description="When the turn ended, however it ended"
    )


class TranscriptOut(TranscriptPage):
    """A page of the session's turns, oldest first."""

    @field_serializer("turns")
    def _turns(self, turns: list[TurnRecord]) -> list[TranscriptTurnOut]:
        return [TranscriptTurnOut.model_validate(turn, from_attributes=True) for turn in turns]

    @classmethod
    def of(cls, page: TranscriptPage) -> TranscriptOut:
        return cls.model_validate(page, from_attributes=True)


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
