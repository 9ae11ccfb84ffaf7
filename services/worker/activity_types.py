"""What the session workflow hands its activities and gets back: ids and small results only.

Conversation content stays on Mistral; workflow history carries each step's final text, the
function calls the model asked for, and the tools' (small) results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from services.common.events import Event
from services.common.sessions import BusKey, TurnUsage


@dataclass
class AgentRef:
    name: str
    agent_id: str
    version: int | None = None


@dataclass
class Roster:
    """A team as registered on Mistral, pinned by a session for its whole life."""

    team: str
    entry: AgentRef
    agents: list[AgentRef]
    spec_hash: str
    # Tools that need a person's approval before they run, and how long a person has.
    approval_tools: list[str] = field(default_factory=list)
    approval_timeout_s: float = 300.0
    tool_timeout_s: float = 30.0
    # A session continues as new after this many turns (or sooner, when Temporal suggests it).
    turns_per_run: int = 100
    # Function name (as the model calls it) -> `server/tool` of the team's MCP servers.
    tools: dict[str, str] = field(default_factory=dict)


@dataclass
class RosterRequest:
    team: str
    # Register again even when this process has the team cached (Mistral lost an agent).
    refresh: bool = False


@dataclass
class FunctionCall:
    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it
    agent: str | None = None


@dataclass
class FunctionOutput:
    call_id: str
    name: str
    output: str
    is_error: bool = False
    # Whether `tool.result` reached the bus; when not, the workflow publishes it once it can.
    published: bool = True


@dataclass
class PriorEntry:
    """An entry the workflow hands a conversation again: a past message, call or result.

    Used to seed a new conversation when Mistral lost the session's one (each turn's input and
    answer, and the current turn's tool steps), so the model keeps the context.
    """

    kind: Literal["user", "assistant", "function.call", "function.result"]
    text: str  # message content, call arguments (JSON text) or result
    call_id: str | None = None
    name: str | None = None


@dataclass
class StepContext:
    """Where a step's events go and whose they are."""

    # The session's BusKey as text: the form activity inputs have always carried it in, which
    # workers on both sides of a rolling upgrade read. `key` is the key itself.
    bus_key: str
    session_id: str
    turn_id: str
    step: int

    @classmethod
    def of(cls, key: BusKey, turn_id: str, step: int) -> StepContext:
        return cls(str(key), key.session_id, turn_id, step)

    @property
    def key(self) -> BusKey:
        return BusKey.parse(self.bus_key)


@dataclass
class Anchor:
    """An entry that ends a completed step, in the conversation that holds it.

    Restarting from it forks that conversation; naming the conversation too keeps this right
    whatever ids the fork gives its copied entries.
    """

    conversation_id: str
    entry_id: str


@dataclass
class ConverseInput:
    context: StepContext
    entry_agent_id: str
    entry_agent_version: int | None
    agent_names: dict[str, str]
    # The conversation to append to (None: start one on the entry agent).
    conversation_id: str | None
    # Where a restart forks from: the end of the last completed step of this turn, or of the
    # last completed turn for a turn's first step. None: nothing completed, start afresh.
    anchor: Anchor | None = None
    # The conversation may hold a half-finished step (after a cancelled or failed turn).
    restart: bool = False
    user_input: str | None = None
    function_outputs: list[FunctionOutput] = field(default_factory=list)
    # Entries that come first: a new conversation's seed (see PriorEntry).
    prior: list[PriorEntry] = field(default_factory=list)
    # Publish `turn.started` (the turn's first model step, scheduled for the first time).
    announce: bool = False
    # When the turn was submitted, while none of its text has streamed yet: the step's first
    # delta is then the turn's first token (services/worker/metrics.py).
    first_token_from: str | None = None


@dataclass
class ConverseResult:
    conversation_id: str
    last_entry_id: str | None
    text: str
    function_calls: list[FunctionCall]
    usage: TurnUsage
    agent: str | None = None
    # The step's events were lost after this bus id ("0": from its start) and no `stream.gap`
    # said so: the bus was down to the end. None: every event reached the log.
    gap_after: str | None = None


@dataclass
class ToolInput:
    context: StepContext
    call: FunctionCall
    tenant_id: str
    user_id: str
    timezone: str | None = None
    # The session's team and the call's `server/tool` (Roster.tools); None in sessions started
    # before teams were files (services/worker/mcp_servers.py routes those).
    team: str | None = None
    tool: str | None = None


@dataclass
class PublishInput:
    bus_key: str  # the session's BusKey as text, as in StepContext
    # `ts` is stamped when it is published.
    event: Event
    # Makes the publish idempotent (EventBus.publish `once`); None: publish every time.
    once: str | None = None

    @property
    def key(self) -> BusKey:
        return BusKey.parse(self.bus_key)


def json_object(text: str) -> dict[str, Any]:
    """Function-call arguments as an object for events; text that is not one is kept, wrapped."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_value": value}
