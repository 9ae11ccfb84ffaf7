"""A stand-in for the worker's session workflow, implementing the contract of sessions.py.

Its own module because the workflow sandbox re-imports it. Turns are deterministic and driven
by words in the input: `slow` streams 40 deltas 25 ms apart, `hold` streams until cancelled,
`fail` ends in turn.failed, `approval` waits for an approval decision first. The activities
(which publish to the bus) live in fake_activities.py and are called by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from services.common.sessions import (
    CANCEL_TURN,
    DECIDE_APPROVAL,
    END_SESSION,
    MAX_INPUT_CHARS,
    SESSION_WORKFLOW,
    STATUS_QUERY,
    SUBMIT_TURN,
    ApprovalDecision,
    BusKey,
    CancelReceipt,
    CancelRequest,
    EndRequest,
    SessionErrors,
    SessionStart,
    SessionStatus,
    TurnReceipt,
    TurnRecord,
    TurnRequest,
    TurnUsage,
)

STREAM_ACTIVITY = "fake_stream_turn"
PUBLISH_ACTIVITY = "fake_publish"


@dataclass
class StreamTurn:
    bus_key: str
    session_id: str
    turn_id: str
    input: str


@dataclass
class StreamOutcome:
    status: str  # completed | failed
    output: str = ""
    error: str = ""


@dataclass
class Publish:
    """Events to publish, each a dict of an events.py model's fields (with `type`)."""

    bus_key: str
    events: list[dict[str, Any]] = field(default_factory=list)


@workflow.defn(name=SESSION_WORKFLOW)
class FakeSessionWorkflow:
    @workflow.init
    def __init__(self, start: SessionStart) -> None:
        self.start = start
        self.key = str(BusKey(start.tenant_id, start.session_id))  # as activity inputs carry it
        self.created_at = workflow.now().isoformat()
        self.turns: dict[str, TurnRecord] = {}
        self.inputs: dict[str, str] = {}
        self.queue: list[str] = []
        self.running: str | None = None
        self.running_task: workflow.ActivityHandle[StreamOutcome] | None = None
        self.ended = False
        self.approvals: dict[str, str] = {}  # approval id -> turn id
        self.decisions: dict[str, ApprovalDecision] = {}

    @workflow.run
    async def run(self, start: SessionStart) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self.queue) or self.ended)
            if self.ended:
                break
            await self._run_turn(self.queue.pop(0))
        await workflow.wait_condition(workflow.all_handlers_finished)

    # -- turns ---------------------------------------------------------------------------

    async def _run_turn(self, turn_id: str) -> None:
        record = self.turns[turn_id]
        self.running = turn_id
        record.status = "running"
        record.started_at = workflow.now().isoformat()
        text = self.inputs[turn_id]
        try:
            if "approval" in text and not await self._approved(turn_id):
                await self._finish(record, "cancelled", reason="approval denied")
                return
            self.running_task = workflow.start_activity(
                STREAM_ACTIVITY,
                StreamTurn(self.key, self.start.session_id, turn_id, text),
                result_type=StreamOutcome,
                start_to_close_timeout=timedelta(seconds=60),
                heartbeat_timeout=timedelta(seconds=2),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
            outcome = await self.running_task
        except (ActivityError, CancelledError) as exc:
            if record.status == "running":
                await self._finish(record, "cancelled", reason=str(exc))
            return
        finally:
            self.running_task = None
            self.running = None if self.running == turn_id else self.running
        if record.status != "running":
            return  # cancelled while the activity was finishing
        record.status = "completed" if outcome.status == "completed" else "failed"
        record.output = outcome.output or None
        record.usage = TurnUsage(3, len(outcome.output.split()), 3 + len(outcome.output.split()))
        record.finished_at = workflow.now().isoformat()
        record.steps = 1

    async def _approved(self, turn_id: str) -> bool:
        approval_id = f"apr_{turn_id[-12:]}"
        self.approvals[approval_id] = turn_id
        await self._publish(
            {
                "type": "approval.required",
                "turn_id": turn_id,
                "approval_id": approval_id,
                "call_id": "call_1",
                "name": "log_meal",
            }
        )
        await workflow.wait_condition(lambda: approval_id in self.decisions, timeout=60)
        decision = self.decisions[approval_id]
        del self.approvals[approval_id]
        await self._publish(
            {
                "type": "approval.resolved",
                "turn_id": turn_id,
                "approval_id": approval_id,
                "approved": decision.approve,
                "reason": decision.reason,
            }
        )
        return decision.approve

    async def _finish(self, record: TurnRecord, status: str, *, reason: str = "") -> None:
        record.status = status  # type: ignore[assignment]
        record.finished_at = workflow.now().isoformat()
        if status == "cancelled":
            await self._publish(
                {"type": "turn.cancelled", "turn_id": record.turn_id, "reason": reason}
            )

    async def _publish(self, *events: dict[str, Any]) -> None:
        stamped = [{"session_id": self.start.session_id, **event} for event in events]
        await workflow.execute_activity(
            PUBLISH_ACTIVITY,
            Publish(self.key, stamped),
            start_to_close_timeout=timedelta(seconds=10),
        )

    # -- submit_turn -----------------------------------------------------------------------

    @workflow.update(name=SUBMIT_TURN)
    async def submit_turn(self, request: TurnRequest) -> TurnReceipt:
        known = self.turns.get(request.turn_id)
        if known is not None:
            return self._receipt(request.turn_id, duplicate=True)
        self.turns[request.turn_id] = TurnRecord(
            turn_id=request.turn_id,
            status="queued",
            submitted_at=workflow.now().isoformat(),
            input=request.input,
        )
        self.inputs[request.turn_id] = request.input
        interrupted: list[str] = []
        if request.on_busy == "interrupt" and self.running is not None:
            interrupted.append(self.running)
            self._cancel_running()
            self.queue.insert(0, request.turn_id)
        else:
            self.queue.append(request.turn_id)
        receipt = self._receipt(request.turn_id)
        receipt.interrupted = interrupted
        return receipt

    @submit_turn.validator
    def _validate_submit(self, request: TurnRequest) -> None:
        if request.turn_id in self.turns:
            return
        if self.ended:
            raise ApplicationError("the session has ended", type=SessionErrors.ENDED)
        if len(request.input) > MAX_INPUT_CHARS:
            raise ApplicationError("input too long", type=SessionErrors.INPUT_TOO_LARGE)
        if not request.input.strip():
            raise ApplicationError("input is blank", type=SessionErrors.INVALID_INPUT)
        if request.on_busy == "reject" and (self.running is not None or self.queue):
            raise ApplicationError("a turn is running", type=SessionErrors.BUSY)

    def _receipt(self, turn_id: str, *, duplicate: bool = False) -> TurnReceipt:
        record = self.turns[turn_id]
        position: int | None = None
        if record.status == "queued" and turn_id in self.queue:
            position = self.queue.index(turn_id) + (1 if self.running is not None else 0)
        elif record.status == "running":
            position = 0
        return TurnReceipt(turn_id, record.status, position, duplicate)

    def _cancel_running(self) -> None:
        if self.running_task is not None:
            self.running_task.cancel()

    # -- cancel_turn -----------------------------------------------------------------------

    @workflow.update(name=CANCEL_TURN)
    async def cancel_turn(self, request: CancelRequest) -> CancelReceipt:
        record = self.turns[request.turn_id]
        if request.turn_id in self.queue:
            self.queue.remove(request.turn_id)
            await self._finish(record, "cancelled", reason=request.reason or "cancelled")
        elif self.running == request.turn_id:
            self._cancel_running()
            await workflow.wait_condition(lambda: record.status != "running")
        return CancelReceipt(request.turn_id, record.status)

    @cancel_turn.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        record = self.turns.get(request.turn_id)
        if record is None:
            raise ApplicationError("no such turn", type=SessionErrors.UNKNOWN_TURN)
        if record.status not in ("queued", "running"):
            raise ApplicationError("the turn has finished", type=SessionErrors.TURN_FINISHED)

    # -- approvals -------------------------------------------------------------------------

    @workflow.update(name=DECIDE_APPROVAL)
    def decide_approval(self, decision: ApprovalDecision) -> None:
        self.decisions[decision.approval_id] = decision

    @decide_approval.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        if decision.approval_id not in self.approvals or decision.approval_id in self.decisions:
            raise ApplicationError("no such approval", type=SessionErrors.UNKNOWN_APPROVAL)

    # -- end_session -----------------------------------------------------------------------

    @workflow.update(name=END_SESSION)
    async def end_session(self, request: EndRequest) -> None:
        self.ended = True
        for turn_id in list(self.queue):
            self.queue.remove(turn_id)
            await self._finish(self.turns[turn_id], "cancelled", reason="session ended")
        if self.running is not None:
            record = self.turns[self.running]
            self._cancel_running()
            await workflow.wait_condition(lambda: record.status != "running")
        await self._publish({"type": "session.ended", "reason": request.reason})

    @end_session.validator
    def _validate_end(self, request: EndRequest) -> None:
        if self.ended:
            raise ApplicationError("the session has ended", type=SessionErrors.ENDED)

    # -- status ----------------------------------------------------------------------------

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> SessionStatus:
        return SessionStatus(
            session_id=self.start.session_id,
            tenant_id=self.start.tenant_id,
            user_id=self.start.user_id,
            agent=self.start.agent,
            state="ended" if self.ended else "open",
            created_at=self.created_at,
            running_turn=self.running,
            queued_turns=list(self.queue),
            turns=list(self.turns.values()),
            metadata=dict(self.start.metadata),
            pending_approvals=[
                {"approval_id": aid, "turn_id": tid}
                for aid, tid in self.approvals.items()
                if aid not in self.decisions
            ],
        )
