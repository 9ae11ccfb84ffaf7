"""The session workflow's public contract: names, ids, inputs and answers.

The gateway talks to the worker's `SessionWorkflow` only through what is declared here (by name,
over Temporal), so neither imports the other. Everything is a pydantic model that the data
converter (services/common/temporal_client.py) carries as its JSON: field names and that JSON are
the contract, so a rename breaks every running session's history. The gateway's responses are
views of these same models (services/gateway/models.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.common import SearchAttributeKey

SESSION_WORKFLOW = "SessionWorkflow"

# Workflow Updates and the query of the session workflow.
SUBMIT_TURN = "submit_turn"
CANCEL_TURN = "cancel_turn"
DECIDE_APPROVAL = "decide_approval"
END_SESSION = "end_session"
STATUS_QUERY = "status"
TRANSCRIPT_QUERY = "transcript"

OnBusy = Literal["enqueue", "reject", "interrupt"]
TurnStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
FINISHED_TURN_STATUSES: frozenset[TurnStatus] = frozenset({"completed", "failed", "cancelled"})
SessionState = Literal["open", "ended"]

MAX_INPUT_CHARS = 32_000
# Turns waiting behind the running one. Bounded so a session's state (carried across
# continue-as-new in one payload, at most 2 MB) can never outgrow what Temporal accepts.
MAX_QUEUED_TURNS = 16


# Search attributes the gateway sets when it starts a session's workflow, so that it can list a
# tenant's sessions from Temporal's visibility store. Registered by the local stack
# (scripts/stack/servers.py) and by Compose's namespace job (docker/temporal/create-namespace.sh).
# Continue-as-new keeps them. The creation time is ours because a run's StartTime is not the
# session's: each continue-as-new starts a new run.
TENANT_ATTRIBUTE = SearchAttributeKey.for_keyword("SessionTenantId")
USER_ATTRIBUTE = SearchAttributeKey.for_keyword("SessionUserId")
CREATED_ATTRIBUTE = SearchAttributeKey.for_datetime("SessionCreatedAt")
SEARCH_ATTRIBUTES: dict[str, str] = {
    TENANT_ATTRIBUTE.name: "Keyword",
    USER_ATTRIBUTE.name: "Keyword",
    CREATED_ATTRIBUTE.name: "Datetime",
}
# Memo fields the list of sessions shows: the agent (set at start) and the title, the first
# message shortened (session_title; set at start when a message starts the session, else by
# the workflow when its first turn arrives).
AGENT_MEMO = "agent"
TITLE_MEMO = "title"
TITLE_CHARS = 80


def session_title(text: str) -> str:
    """A one-line title from a message: whitespace collapsed, at most TITLE_CHARS characters."""
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "\u2026"


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


class _Contract(BaseModel):
    # Unknown fields are ignored, as Temporal's dataclass decoding did: a newer worker's answer
    # still decodes in an older gateway. Every field is always in the JSON (defaults too), and
    # the OpenAPI document says so.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class SessionStart(_Contract):
    """How a session begins; fixed for its whole life."""

    session_id: str
    tenant_id: str
    user_id: str
    agent: str = "nutrisense"
    metadata: dict[str, str] = Field(default_factory=dict)
    timezone: str | None = None
    # Set only by the workflow itself when it continues as new (its ids and small records).
    carried: dict[str, Any] | None = None


class TurnRequest(_Contract):
    turn_id: str
    input: str
    on_busy: OnBusy = "enqueue"
    # W3C trace context of the request that submitted the turn, to link spans across processes.
    trace_context: dict[str, str] = Field(default_factory=dict)
    # When the gateway took the turn (ISO 8601, UTC): where time to first token starts.
    submitted_at: str | None = None


class TurnReceipt(_Contract):
    turn_id: str
    status: TurnStatus
    # Turns ahead of this one (0: it runs now); None for a duplicate of a finished turn.
    position: int | None = 0
    duplicate: bool = False
    # Turns that on_busy=interrupt cancelled to make room for this one.
    interrupted: list[str] = Field(default_factory=list)
    # The `submitted_at` of the request that queued the turn (None for a duplicate). Temporal
    # answers a retried Update with its first outcome, so this tells the gateway whether the
    # answer is to its own request (a new turn) or to an earlier one (a client's retry).
    submitted_at: str | None = None

    def answers(self, request: TurnRequest) -> bool:
        """Whether `request` is the one that queued the turn: not a retry of an earlier one."""
        return self.submitted_at is not None and self.submitted_at == request.submitted_at


# A turn's error and usage are the same models in its record and in its `turn.failed` and
# `turn.completed` events (services/common/events.py). Docstrings here are the OpenAPI document's.
class TurnError(_Contract):
    """Why the turn failed."""

    code: str
    message: str


class TurnUsage(_Contract):
    """The tokens the turn used."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add(self, other: TurnUsage) -> TurnUsage:
        return TurnUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class ToolCallRecord(_Contract):
    """One function call of a turn, as the transcript shows it (texts shortened by the worker)."""

    name: str
    arguments: str  # JSON text, as the model wrote it
    result: str | None = None
    error: str | None = None


class TurnRecord(_Contract):
    turn_id: str
    status: TurnStatus
    submitted_at: str
    # What the user said: with `output`, what seeds a new conversation when Mistral lost one.
    input: str = Field(default="", description="What the user said")
    started_at: str | None = None
    finished_at: str | None = None
    output: str | None = None
    usage: TurnUsage | None = None
    error: TurnError | None = None
    steps: int = 0
    agent: str | None = None
    # The turn's function calls in order, bounded in number and size (worker/session_state.py).
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)


class CancelRequest(_Contract):
    turn_id: str
    reason: str | None = None


class CancelReceipt(_Contract):
    turn_id: str
    status: TurnStatus


class ApprovalDecision(_Contract):
    approval_id: str
    approve: bool
    reason: str | None = None


class EndRequest(_Contract):
    reason: str | None = None


class WaitingApproval(_Contract):
    """A tool call waiting for a person's decision (`POST /v1/sessions/{sid}/approvals/{aid}`)."""

    approval_id: str
    turn_id: str
    tool: str = Field(description="The function the model asked to call")


class SessionView(_Contract):
    """A session's status as its clients may see it: every field here is public (the gateway
    shows them all, services/gateway/models.py). The worker's own fields are SessionStatus's."""

    session_id: str
    tenant_id: str
    user_id: str
    agent: str
    state: SessionState
    created_at: str
    running_turn: str | None
    queued_turns: list[str]
    turns: list[TurnRecord]
    metadata: dict[str, str] = Field(default_factory=dict)
    pending_approvals: list[WaitingApproval] = Field(default_factory=list)

    def turn_over(self, turn_id: str) -> bool:
        """Whether `turn_id` has finished: nothing more of it will be published."""
        return any(t.turn_id == turn_id and t.status in FINISHED_TURN_STATUSES for t in self.turns)


class SessionStatus(SessionView):
    """The `status` query's answer: the public view and what only the worker needs."""

    # The Mistral conversation the next turn continues (it changes when a step is restarted).
    conversation_id: str | None = None


class TranscriptRequest(_Contract):
    """A page of turns: the `limit` newest before the turn `before` (or the newest of all)."""

    limit: int = 50
    before: str | None = None


class TranscriptPage(_Contract):
    turns: list[TurnRecord]  # oldest first
    next_before: str | None = Field(
        default=None,
        description="Pass as `before` for the page of older turns; null when there are none",
    )


def transcript_page(records: list[TurnRecord], request: TranscriptRequest) -> TranscriptPage:
    """The page of `records` (oldest first) that `request` asks for.

    A `before` the session does not know gives an empty page: it keeps its newest turns only, so
    a turn it has let go of has no older turns kept either.
    """
    end = len(records)
    if request.before is not None:
        end = next((i for i, r in enumerate(records) if r.turn_id == request.before), 0)
    start = max(0, end - max(1, request.limit))
    return TranscriptPage(
        turns=records[start:end], next_before=records[start].turn_id if start > 0 else None
    )


@dataclass(frozen=True, slots=True)
class BusKey:
    """Where a session's events go on the bus (its log, channel and once keys; services/common/
    bus.py): the tenant's and the session's ids, so tenants never share one.

    Not a session id: every event carries the bare `session_id`, never the key.
    """

    tenant_id: str
    session_id: str

    def __str__(self) -> str:
        # The key's text, inside every Redis key name of the session and in the activity inputs
        # that carry it (services/worker/steps.py). Never to change: a rolling upgrade finds the
        # logs and channels the previous version wrote, and reads its activity inputs.
        return f"{self.tenant_id}/{self.session_id}"

    @classmethod
    def parse(cls, text: str) -> BusKey:
        """The key whose text is `text`. Unambiguous: neither a tenant id (gateway settings) nor
        a session id (services/gateway/ids.py) holds a `/`."""
        tenant_id, slash, session_id = text.partition("/")
        if not (slash and tenant_id and session_id) or "/" in session_id:
            raise ValueError(f"not a bus key: {text!r}")
        return cls(tenant_id, session_id)
