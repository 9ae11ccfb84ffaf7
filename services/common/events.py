"""A session's events (docs/architecture.md#vocabularies): what workers publish, SSE clients read.

Each event's `type` is its SSE `event:` name and its JSON is the SSE `data:`. The bus assigns the
id (the SSE `id:`), so ids are not part of the models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from services.common.sessions import TurnError, TurnUsage


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    session_id: str
    turn_id: str | None = None
    # When the event was logged: the bus stamps it as it assigns the id (`EventBus.publish`),
    # so the workflow can build events without reading a clock. An event made outside the bus
    # (the gateway's own `stream.gap`, a terminal event rebuilt from the turn's record) sets it.
    ts: str | None = None

    def stamped(self) -> Self:
        """This event with `ts` set (to now, unless it has one)."""
        return self if self.ts is not None else self.model_copy(update={"ts": utc_now()})


class TurnQueued(_Event):
    type: Literal["turn.queued"] = "turn.queued"
    position: int = 0


class TurnStarted(_Event):
    type: Literal["turn.started"] = "turn.started"
    agent: str | None = None


class AgentHandoff(_Event):
    type: Literal["agent.handoff"] = "agent.handoff"
    from_agent: str | None = None
    to_agent: str


class MessageDelta(_Event):
    type: Literal["message.delta"] = "message.delta"
    text: str
    agent: str | None = None


class ToolCall(_Event):
    type: Literal["tool.call"] = "tool.call"
    call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    agent: str | None = None


class ToolResult(_Event):
    type: Literal["tool.result"] = "tool.result"
    call_id: str
    name: str
    output: str
    is_error: bool = False


class ApprovalRequired(_Event):
    type: Literal["approval.required"] = "approval.required"
    approval_id: str
    call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    expires_at: str | None = None


class ApprovalResolved(_Event):
    type: Literal["approval.resolved"] = "approval.resolved"
    approval_id: str
    approved: bool
    reason: str | None = None


class TurnRetry(_Event):
    """The step is being retried: clients drop the partial text of that step."""

    type: Literal["turn.retry"] = "turn.retry"
    step: int = 0
    attempt: int = 2
    reason: str | None = None


class ConversationReset(_Event):
    """Mistral no longer knows the session's conversation (or its agents): a new one begins,
    seeded with what the session knows (each turn's input and answer, this turn's tool steps).
    The reply goes on; nothing is asked of the client."""

    type: Literal["conversation.reset"] = "conversation.reset"
    reason: str
    turns_carried: int = 0


class TurnCompleted(_Event):
    type: Literal["turn.completed"] = "turn.completed"
    output: str
    # The same usage and error as the turn's record (services/common/sessions.py).
    usage: TurnUsage = Field(default_factory=TurnUsage)


class TurnFailed(_Event):
    type: Literal["turn.failed"] = "turn.failed"
    error: TurnError


class TurnCancelled(_Event):
    type: Literal["turn.cancelled"] = "turn.cancelled"
    reason: str | None = None


class SessionEnded(_Event):
    type: Literal["session.ended"] = "session.ended"
    reason: str | None = None


class StreamGap(_Event):
    """Events after `after` were trimmed from the replay log (or the log was lost)."""

    type: Literal["stream.gap"] = "stream.gap"
    after: str
    first_available: str | None = None


Event = Annotated[
    TurnQueued
    | TurnStarted
    | AgentHandoff
    | MessageDelta
    | ToolCall
    | ToolResult
    | ApprovalRequired
    | ApprovalResolved
    | TurnRetry
    | ConversationReset
    | TurnCompleted
    | TurnFailed
    | TurnCancelled
    | SessionEnded
    | StreamGap,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_TYPES: tuple[str, ...] = (
    "turn.queued",
    "turn.started",
    "agent.handoff",
    "message.delta",
    "tool.call",
    "tool.result",
    "approval.required",
    "approval.resolved",
    "turn.retry",
    "conversation.reset",
    "turn.completed",
    "turn.failed",
    "turn.cancelled",
    "session.ended",
    "stream.gap",
)

# A turn ends with exactly one of these.
TERMINAL_TURN_EVENTS = frozenset({"turn.completed", "turn.failed", "turn.cancelled"})


def parse_event(data: str | bytes) -> Event:
    """The typed event from its JSON (as stored on the bus or read from SSE `data:`)."""
    return EVENT_ADAPTER.validate_json(data)
