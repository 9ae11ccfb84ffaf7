"""What a session workflow keeps: the state it carries across continue-as-new, its approvals,
and how a failed step is told as a turn error."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import TypeAdapter

from services.common.sessions import ToolCallRecord, TurnRecord, TurnRequest
from services.worker.activity_types import Anchor, FunctionCall, FunctionOutput, Roster
from services.worker.outbox import OutboxItem
from services.worker.session_limits import KEEP_RECORDS, KEEP_RECORDS_BYTES

# What a turn record keeps of its function calls for the transcript: the first calls, each text
# shortened. Records travel in every status answer and across continue-as-new (within
# KEEP_RECORDS_BYTES), so a chatty tool must not crowd out the turns themselves.
KEEP_TOOL_CALLS = 16
KEEP_ARGUMENTS_CHARS = 1_000
KEEP_RESULT_CHARS = 2_000


@dataclass
class Carry:
    """What a session takes across continue-as-new: ids and small records only."""

    created_at: str
    roster: Roster | None = None
    conversation_id: str | None = None
    anchor: Anchor | None = None
    needs_restart: bool = False
    # Results the conversation owes the calls at the anchor (a turn ended after its tools ran).
    owed: list[FunctionOutput] = field(default_factory=list)
    records: list[TurnRecord] = field(default_factory=list)
    queue: list[TurnRequest] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    outbox: list[OutboxItem] = field(default_factory=list)


# The carry crosses continue-as-new as plain JSON inside `SessionStart.carried` (a shared type
# the gateway knows, which cannot name worker types); this reads and writes it, events included.
CARRY: TypeAdapter[Carry] = TypeAdapter(Carry)


@dataclass
class PendingApproval:
    approval_id: str
    turn_id: str
    call: FunctionCall
    approved: bool | None = None
    reason: str | None = None


def carried_records(records: list[TurnRecord]) -> list[TurnRecord]:
    """The newest finished records that fit the carry's budget (inputs can be 32 KB each)."""
    kept = records[-KEEP_RECORDS:]
    while len(kept) > 1 and len(json.dumps([r.model_dump() for r in kept])) > KEEP_RECORDS_BYTES:
        kept.pop(0)
    return kept


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def tool_call_records(
    kept: list[ToolCallRecord], calls: list[FunctionCall], outputs: list[FunctionOutput]
) -> list[ToolCallRecord]:
    """`kept` with one step's calls and results added, within KEEP_TOOL_CALLS."""
    added = [
        ToolCallRecord(
            name=call.name,
            arguments=shortened(call.arguments, KEEP_ARGUMENTS_CHARS),
            result=None if output.is_error else shortened(output.output, KEEP_RESULT_CHARS),
            error=shortened(output.output, KEEP_RESULT_CHARS) if output.is_error else None,
        )
        for call, output in zip(calls, outputs, strict=False)
    ]
    return [*kept, *added][:KEEP_TOOL_CALLS]
