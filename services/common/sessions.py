"""The session workflow's public contract: names, ids, inputs and answers.

The gateway talks to the worker's `SessionWorkflow` only through what is declared here (by name,
over Temporal), so neither imports the other. Everything is a dataclass that Temporal's default
JSON converter carries as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SESSION_WORKFLOW = "SessionWorkflow"

# Workflow Updates and the query of the session workflow.
SUBMIT_TURN = "submit_turn"
CANCEL_TURN = "cancel_turn"
DECIDE_APPROVAL = "decide_approval"
END_SESSION = "end_session"
STATUS_QUERY = "status"

OnBusy = Literal["enqueue", "reject", "interrupt"]
TurnStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
FINISHED_TURN_STATUSES: frozenset[TurnStatus] = frozenset({"completed", "failed", "cancelled"})
SessionState = Literal["open", "ended"]

MAX_INPUT_CHARS = 32_000
# Turns waiting behind the running one. Bounded so a session's state (carried across
# continue-as-new in one payload, at most 2 MB) can never outgrow what Temporal accepts.
MAX_QUEUED_TURNS = 16


def workflow_id(tenant_id: str, session_id: str) -> str:
    """One workflow per session, namespaced by tenant: another tenant's id never resolves."""
    return f"session/{tenant_id}/{session_id}"


class SessionErrors:
    """`ApplicationError.type` values the update validators raise; the gateway maps them."""

    BUSY = "SessionBusy"  # on_busy=reject while a turn runs -> 409
    ENDED = "SessionEnded"  # the session was ended -> 409
    INPUT_TOO_LARGE = "InputTooLarge"  # -> 413
    INVALID_INPUT = "InvalidInput"  # -> 422
    UNKNOWN_TURN = "UnknownTurn"  # -> 404
    TURN_FINISHED = "TurnFinished"  # cancel of a finished turn -> 409
    UNKNOWN_APPROVAL = "UnknownApproval"  # -> 404
    QUEUE_FULL = "SessionQueueFull"  # MAX_QUEUED_TURNS already wait -> 429


@dataclass
class SessionStart:
    """How a session begins; fixed for its whole life."""

    session_id: str
    tenant_id: str
    user_id: str
    agent: str = "nutrisense"
    metadata: dict[str, str] = field(default_factory=dict)
    timezone: str | None = None
    # Set only by the workflow itself when it continues as new (its ids and small records).
    carried: dict[str, Any] | None = None


@dataclass
class TurnRequest:
    turn_id: str
    input: str
    on_busy: OnBusy = "enqueue"
    # W3C trace context of the request that submitted the turn, to link spans across processes.
    trace_context: dict[str, str] = field(default_factory=dict)


@dataclass
class TurnReceipt:
    turn_id: str
    status: TurnStatus
    # Turns ahead of this one (0: it runs now); None for a duplicate of a finished turn.
    position: int | None = 0
    duplicate: bool = False
    # Turns that on_busy=interrupt cancelled to make room for this one.
    interrupted: list[str] = field(default_factory=list)


@dataclass
class TurnError:
    code: str
    message: str


@dataclass
class TurnUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add(self, other: TurnUsage) -> TurnUsage:
        return TurnUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )


@dataclass
class TurnRecord:
    turn_id: str
    status: TurnStatus
    submitted_at: str
    # What the user said: with `output`, what seeds a new conversation when Mistral lost one.
    input: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    output: str | None = None
    usage: TurnUsage | None = None
    error: TurnError | None = None
    steps: int = 0
    agent: str | None = None


@dataclass
class CancelRequest:
    turn_id: str
    reason: str | None = None


@dataclass
class CancelReceipt:
    turn_id: str
    status: TurnStatus


@dataclass
class ApprovalDecision:
    approval_id: str
    approve: bool
    reason: str | None = None


@dataclass
class EndRequest:
    reason: str | None = None


@dataclass
class SessionStatus:
    session_id: str
    tenant_id: str
    user_id: str
    agent: str
    state: SessionState
    created_at: str
    running_turn: str | None
    queued_turns: list[str]
    turns: list[TurnRecord]
    metadata: dict[str, str] = field(default_factory=dict)
    pending_approvals: list[dict[str, Any]] = field(default_factory=list)
    # The Mistral conversation the next turn continues (it changes when a step is restarted).
    conversation_id: str | None = None

    def turn_over(self, turn_id: str) -> bool:
        """Whether `turn_id` has finished: nothing more of it will be published."""
        return any(t.turn_id == turn_id and t.status in FINISHED_TURN_STATUSES for t in self.turns)


def bus_key(tenant_id: str, session_id: str) -> str:
    """The session's key on the event bus (log and channel): tenants never share one."""
    return f"{tenant_id}/{session_id}"
