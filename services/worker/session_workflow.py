"""One long-lived workflow per chat session (DESIGN.md, "A turn, end to end").

Turns arrive as `submit_turn` Updates and run one at a time: each model round trip is a
`converse` activity and each function call a `call_tool` activity (in parallel when the model
asks for several). The workflow keeps ids and small per-turn records only; Mistral keeps the
conversation. Cancelled and failed turns leave the conversation to be restarted from the end of
the last completed turn, so the next turn never meets a locked or half-finished conversation.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.converter import value_to_type
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from services.common.sessions import (
        CANCEL_TURN,
        DECIDE_APPROVAL,
        END_SESSION,
        MAX_INPUT_CHARS,
        SESSION_WORKFLOW,
        STATUS_QUERY,
        SUBMIT_TURN,
        ApprovalDecision,
        CancelReceipt,
        CancelRequest,
        EndRequest,
        SessionErrors,
        SessionStart,
        SessionStatus,
        TurnError,
        TurnReceipt,
        TurnRecord,
        TurnRequest,
        TurnUsage,
        bus_key,
    )
    from services.worker.activities import ActivityErrors, SessionActivities
    from services.worker.model import ModelErrors
    from services.worker.steps import (
        Anchor,
        ConverseInput,
        FunctionCall,
        FunctionOutput,
        PublishInput,
        Roster,
        RosterRequest,
        StepContext,
        ToolInput,
        json_object,
    )

MAX_STEPS = 8
KEEP_RECORDS = 50
KEEP_SEEN_IDS = 1000

MODEL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=6,
    non_retryable_error_types=[ModelErrors.REJECTED],
)
TOOL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=300),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=4,
)
# Short: a dead worker must show within seconds (platform notes: kill -> retry ~ this + sticky).
HEARTBEAT = timedelta(seconds=3)


@dataclass
class Carry:
    """What a session takes across continue-as-new: ids and small records only."""

    created_at: str
    roster: Roster | None = None
    conversation_id: str | None = None
    anchor: Anchor | None = None
    needs_restart: bool = False
    records: list[TurnRecord] = field(default_factory=list)
    queue: list[TurnRequest] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)


@dataclass
class PendingApproval:
    approval_id: str
    turn_id: str
    call: FunctionCall
    approved: bool | None = None
    reason: str | None = None


@workflow.defn(name=SESSION_WORKFLOW)
class SessionWorkflow:
    @workflow.init
    def __init__(self, start: SessionStart) -> None:
        carry = (
            value_to_type(Carry, start.carried, [])
            if start.carried
            else Carry(created_at=workflow.now().isoformat())
        )
        self.start = dataclasses.replace(start, carried=None)
        self.key = bus_key(start.tenant_id, start.session_id)
        self.created_at = carry.created_at
        self.roster = carry.roster
        self.conversation_id = carry.conversation_id
        self.anchor = carry.anchor
        self.needs_restart = carry.needs_restart
        self.records: dict[str, TurnRecord] = {r.turn_id: r for r in carry.records}
        self.queue: list[TurnRequest] = list(carry.queue)
        self.seen: list[str] = list(carry.seen)
        for request in self.queue:
            self.records.setdefault(request.turn_id, self._new_record(request.turn_id))
        self.running: str | None = None
        self.turn_task: asyncio.Task[None] | None = None
        self.approvals: dict[str, PendingApproval] = {}
        self.ended = False
        self.closed = False
        self.turns_this_run = 0
        self.roster_error = TurnError("agent_unavailable", "the agent team is not registered")
        self._cancel_reason: str | None = None
        self._end_reason: str | None = None
        self._published = 0  # workflow events published by this run: each one's `once` key

    # -- the main loop ---------------------------------------------------------------------

    @workflow.run
    async def run(self, start: SessionStart) -> None:
        if self.roster is None:
            self.roster = await self._resolve_roster()
        while True:
            await workflow.wait_condition(lambda: bool(self.queue) or self.ended)
            if self.ended:
                break
            request = self.queue.pop(0)
            self.turn_task = asyncio.create_task(self._run_turn(request))
            await self.turn_task
            self.turn_task = None
            self.turns_this_run += 1
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                carried = dataclasses.asdict(self._carry())
                workflow.continue_as_new(dataclasses.replace(self.start, carried=carried))
        for request in self.queue:
            await self._finish_cancelled(request.turn_id, "session ended")
        self.queue.clear()
        await self._publish({"type": "session.ended", "reason": self._end_reason})
        self.closed = True
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _resolve_roster(self) -> Roster | None:
        try:
            return await workflow.execute_activity_method(
                SessionActivities.resolve_roster,
                RosterRequest(self.start.agent),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError as err:
            # The session cannot converse: every turn will fail with this reason.
            self.roster_error = TurnError("agent_unavailable", _turn_error(err).message)
            return None

    def _should_continue_as_new(self) -> bool:
        return (
            workflow.info().is_continue_as_new_suggested()
            or (self.roster is not None and self.turns_this_run >= self.roster.turns_per_run)
        ) and not self.ended

    def _carry(self) -> Carry:
        finished = [r for r in self.records.values() if r.status not in ("queued", "running")]
        return Carry(
            created_at=self.created_at,
            roster=self.roster,
            conversation_id=self.conversation_id,
            anchor=self.anchor,
            needs_restart=self.needs_restart,
            records=finished[-KEEP_RECORDS:],
            queue=list(self.queue),
            seen=self.seen[-KEEP_SEEN_IDS:],
        )

    # -- one turn --------------------------------------------------------------------------

    async def _run_turn(self, request: TurnRequest) -> None:
        record = self.records[request.turn_id]
        record.status = "running"
        record.started_at = workflow.now().isoformat()
        self.running = request.turn_id
        try:
            text, usage, steps, agent = await self._converse(request)
        except (asyncio.CancelledError, CancelledError):
            self.needs_restart = True
            await self._finish_cancelled(request.turn_id, self._cancel_reason)
        except (ActivityError, ApplicationError) as err:
            self.needs_restart = True
            if isinstance(err.cause, CancelledError):  # the activity acknowledged our cancel
                await self._finish_cancelled(request.turn_id, self._cancel_reason)
                return
            error = _turn_error(err)
            self._finish(record, "failed", error=error)
            await self._publish(
                {
                    "type": "turn.failed",
                    "turn_id": request.turn_id,
                    "error": {"code": error.code, "message": error.message},
                }
            )
        else:
            record.steps, record.agent = steps, agent
            self._finish(record, "completed", output=text, usage=usage)
            await self._publish(
                {
                    "type": "turn.completed",
                    "turn_id": request.turn_id,
                    "output": text,
                    "usage": vars(usage),
                }
            )
        finally:
            self.running = None

    async def _converse(self, request: TurnRequest) -> tuple[str, TurnUsage, int, str | None]:
        if self.roster is None:
            error = self.roster_error
            raise ApplicationError(error.message, type=error.code, non_retryable=True)
        roster = self.roster
        usage = TurnUsage()
        outputs: list[FunctionOutput] = []
        anchor = self.anchor
        restart = self.needs_restart
        for step in range(MAX_STEPS):
            result = await workflow.execute_activity_method(
                SessionActivities.converse,
                ConverseInput(
                    context=StepContext(self.key, self.start.session_id, request.turn_id, step),
                    entry_agent_id=roster.entry.agent_id,
                    entry_agent_version=roster.entry.version,
                    agent_names={a.agent_id: a.name for a in roster.agents},
                    conversation_id=self.conversation_id,
                    anchor=anchor,
                    restart=restart,
                    user_input=request.input if step == 0 else None,
                    function_outputs=outputs,
                ),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=MODEL_RETRY,
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
            self.conversation_id = result.conversation_id
            restart = False
            if result.last_entry_id is not None:
                anchor = Anchor(result.conversation_id, result.last_entry_id)
            usage = usage.add(result.usage)
            if not result.function_calls:
                self.anchor, self.needs_restart = anchor, False
                return result.text, usage, step + 1, result.agent
            outputs = list(
                await asyncio.gather(
                    *(self._call_tool(request, call, step) for call in result.function_calls)
                )
            )
        raise ApplicationError(
            f"the agents asked for tools {MAX_STEPS} times without answering",
            type="step_limit",
            non_retryable=True,
        )

    async def _call_tool(
        self, request: TurnRequest, call: FunctionCall, step: int
    ) -> FunctionOutput:
        assert self.roster is not None
        if call.name in self.roster.approval_tools:
            approved, reason = await self._await_approval(request.turn_id, call)
            if not approved:
                output = f"The user did not approve running {call.name}" + (
                    f": {reason}" if reason else "."
                )
                await self._publish(
                    {
                        "type": "tool.result",
                        "turn_id": request.turn_id,
                        "call_id": call.call_id,
                        "name": call.name,
                        "output": output,
                        "is_error": True,
                    }
                )
                return FunctionOutput(call.call_id, call.name, output, is_error=True)
        return await workflow.execute_activity_method(
            SessionActivities.call_tool,
            ToolInput(
                context=StepContext(self.key, self.start.session_id, request.turn_id, step),
                call=call,
                tenant_id=self.start.tenant_id,
                user_id=self.start.user_id,
                timezone=self.start.timezone,
            ),
            start_to_close_timeout=timedelta(seconds=self.roster.tool_timeout_s + 10),
            heartbeat_timeout=HEARTBEAT,
            retry_policy=TOOL_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )

    async def _await_approval(self, turn_id: str, call: FunctionCall) -> tuple[bool, str | None]:
        assert self.roster is not None
        approval_id = f"apr_{workflow.uuid4().hex[:20]}"
        pending = PendingApproval(approval_id, turn_id, call)
        self.approvals[approval_id] = pending
        timeout = timedelta(seconds=self.roster.approval_timeout_s)
        await self._publish(
            {
                "type": "approval.required",
                "turn_id": turn_id,
                "approval_id": approval_id,
                "call_id": call.call_id,
                "name": call.name,
                "arguments": json_object(call.arguments),
                "expires_at": (workflow.now() + timeout).isoformat(),
            }
        )
        try:
            await workflow.wait_condition(lambda: pending.approved is not None, timeout=timeout)
        except TimeoutError:
            pending.approved, pending.reason = False, "no decision in time"
        finally:
            self.approvals.pop(approval_id, None)
        await self._publish(
            {
                "type": "approval.resolved",
                "turn_id": turn_id,
                "approval_id": approval_id,
                "approved": bool(pending.approved),
                "reason": pending.reason,
            }
        )
        return bool(pending.approved), pending.reason

    # -- records and events ----------------------------------------------------------------

    def _new_record(self, turn_id: str) -> TurnRecord:
        return TurnRecord(turn_id=turn_id, status="queued", submitted_at=workflow.now().isoformat())

    def _finish(self, record: TurnRecord, status: Any, **fields: Any) -> None:
        record.status = status
        record.finished_at = workflow.now().isoformat()
        for name, value in fields.items():
            setattr(record, name, value)

    async def _finish_cancelled(self, turn_id: str, reason: str | None) -> None:
        self._finish(self.records[turn_id], "cancelled")
        await self._publish({"type": "turn.cancelled", "turn_id": turn_id, "reason": reason})

    async def _publish(self, event: dict[str, Any]) -> None:
        """Publish a workflow-level event; a bus outage costs live delivery, never the turn."""
        event = {"session_id": self.start.session_id, **event}
        # Replay re-runs a local activity whose result was not recorded yet (the worker died
        # after it published): the same key, counted per run, makes that a no-op on the bus.
        self._published += 1
        once = f"{workflow.info().run_id}:{self._published}"
        try:
            await workflow.execute_local_activity_method(
                SessionActivities.publish_event,
                PublishInput(self.key, event, once),
                start_to_close_timeout=timedelta(seconds=5),
                retry_policy=RetryPolicy(
                    maximum_interval=timedelta(seconds=2), maximum_attempts=10
                ),
            )
        except ActivityError as err:
            workflow.logger.warning("event %s not published: %s", event["type"], err)

    # -- updates and the query -------------------------------------------------------------

    @workflow.update(name=SUBMIT_TURN)
    async def submit_turn(self, request: TurnRequest) -> TurnReceipt:
        existing = self.records.get(request.turn_id)
        if existing is not None or request.turn_id in self.seen:
            return self._duplicate_receipt(request.turn_id)
        self.seen.append(request.turn_id)
        record = self.records[request.turn_id] = self._new_record(request.turn_id)
        interrupted: list[str] = []
        if request.on_busy == "interrupt" and self.running is not None:
            interrupted.append(self.running)
            self._cancel_running("interrupted by a newer turn")
            self.queue.insert(0, request)
            return TurnReceipt(request.turn_id, record.status, 1, interrupted=interrupted)
        position = len(self.queue) + (1 if self.running is not None else 0)
        if position:
            await self._publish(
                {"type": "turn.queued", "turn_id": request.turn_id, "position": position}
            )
        self.queue.append(request)
        return TurnReceipt(request.turn_id, record.status, position)

    @submit_turn.validator
    def _validate_turn(self, request: TurnRequest) -> None:
        if request.turn_id in self.records or request.turn_id in self.seen:
            return  # a retry: answered with the original receipt
        if self.ended:
            raise ApplicationError("the session has ended", type=SessionErrors.ENDED)
        if not request.input.strip():
            raise ApplicationError("input is empty", type=SessionErrors.INVALID_INPUT)
        if len(request.input) > MAX_INPUT_CHARS:
            raise ApplicationError(
                f"input is {len(request.input)} characters; at most {MAX_INPUT_CHARS}",
                type=SessionErrors.INPUT_TOO_LARGE,
            )
        if request.on_busy not in ("enqueue", "reject", "interrupt"):
            raise ApplicationError(
                "on_busy must be enqueue, reject or interrupt", type=SessionErrors.INVALID_INPUT
            )
        if request.on_busy == "reject" and (self.running is not None or self.queue):
            raise ApplicationError(
                f"turn {self.running or self.queue[0].turn_id} is still running",
                type=SessionErrors.BUSY,
            )

    def _duplicate_receipt(self, turn_id: str) -> TurnReceipt:
        record = self.records.get(turn_id)
        status = record.status if record is not None else "completed"
        position: int | None = None
        if status == "queued":
            position = next((i + 1 for i, r in enumerate(self.queue) if r.turn_id == turn_id), None)
        elif status == "running":
            position = 0
        return TurnReceipt(turn_id, status, position, duplicate=True)

    def _cancel_running(self, reason: str) -> None:
        if self.turn_task is not None and not self.turn_task.done():
            self._cancel_reason = reason
            self.turn_task.cancel()

    @workflow.update(name=CANCEL_TURN)
    async def cancel_turn(self, request: CancelRequest) -> CancelReceipt:
        queued = next((r for r in self.queue if r.turn_id == request.turn_id), None)
        if queued is not None:
            self.queue.remove(queued)
            await self._finish_cancelled(request.turn_id, request.reason or "cancelled")
        elif self.running == request.turn_id:
            self._cancel_running(request.reason or "cancelled")
            record = self.records[request.turn_id]
            await workflow.wait_condition(lambda: record.status != "running")
        return CancelReceipt(request.turn_id, self.records[request.turn_id].status)

    @cancel_turn.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        record = self.records.get(request.turn_id)
        if record is None:
            raise ApplicationError(f"no turn {request.turn_id}", type=SessionErrors.UNKNOWN_TURN)
        if record.status not in ("queued", "running"):
            raise ApplicationError(
                f"turn {request.turn_id} already {record.status}", type=SessionErrors.TURN_FINISHED
            )

    @workflow.update(name=DECIDE_APPROVAL)
    def decide_approval(self, decision: ApprovalDecision) -> None:
        pending = self.approvals[decision.approval_id]
        pending.approved, pending.reason = decision.approve, decision.reason

    @decide_approval.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        pending = self.approvals.get(decision.approval_id)
        if pending is None or pending.approved is not None:
            raise ApplicationError(
                f"no pending approval {decision.approval_id}", type=SessionErrors.UNKNOWN_APPROVAL
            )

    @workflow.update(name=END_SESSION)
    async def end_session(self, request: EndRequest) -> None:
        if not self.ended:
            self.ended = True
            self._end_reason = request.reason or "ended by the client"
            self._cancel_running("session ended")
        await workflow.wait_condition(lambda: self.closed)

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
            queued_turns=[r.turn_id for r in self.queue],
            turns=list(self.records.values()),
            metadata=dict(self.start.metadata),
            pending_approvals=[
                {"approval_id": p.approval_id, "turn_id": p.turn_id, "tool": p.call.name}
                for p in self.approvals.values()
                if p.approved is None
            ],
            conversation_id=self.conversation_id,
        )


def _turn_error(err: BaseException) -> TurnError:
    cause = err.cause if isinstance(err, ActivityError) and err.cause is not None else err
    if isinstance(cause, ApplicationError):
        code = {
            ModelErrors.REJECTED: "model_rejected",
            ModelErrors.RATE_LIMITED: "model_rate_limited",
            ModelErrors.UNAVAILABLE: "model_unavailable",
            ModelErrors.STREAM_ERROR: "model_error",
            ActivityErrors.TOOL_UNAVAILABLE: "tool_unavailable",
        }.get(cause.type or "", cause.type or "error")
        return TurnError(code, cause.message)
    return TurnError("error", str(cause))
