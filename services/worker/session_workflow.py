"""One long-lived workflow per chat session (docs/architecture.md#a-turn-end-to-end).

Turns arrive as `submit_turn` Updates and run one at a time: each model round trip is a
`converse` activity and each function call a `call_tool` activity (in parallel when the model
asks for several). The workflow keeps ids and small per-turn records only; Mistral keeps the
conversation. The anchor moves with every completed step, so a cancelled or failed turn keeps
what it finished (tool results included): the next turn restarts from there, never meeting a
locked or half-finished conversation. What Mistral lost (a conversation, an agent) is replaced,
seeded from the turn records; a team that could not be registered is registered again; and
events go through an outbox, so the bus never decides a turn (docs/architecture.md#faults).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from services.common.events import (
        Event,
        SessionEnded,
        StreamGap,
        TurnCancelled,
        TurnCompleted,
        TurnFailed,
        TurnQueued,
    )
    from services.common.sessions import (
        CANCEL_TURN,
        DECIDE_APPROVAL,
        END_SESSION,
        SESSION_WORKFLOW,
        STATUS_QUERY,
        SUBMIT_TURN,
        TITLE_MEMO,
        TRANSCRIPT_QUERY,
        ApprovalDecision,
        BusKey,
        CancelReceipt,
        CancelRequest,
        EndRequest,
        SessionStart,
        SessionStatus,
        TranscriptPage,
        TranscriptRequest,
        TurnReceipt,
        TurnRecord,
        TurnRequest,
        TurnStatus,
        TurnUsage,
        session_title,
        transcript_page,
    )
    from services.common.turn_trace import attached, turn_context
    from services.worker import metrics, seeding
    from services.worker.activity_types import (
        PriorEntry,
    )
    from services.worker.errors import StepErrors, turn_error
    from services.worker.outbox import Outbox
    from services.worker.session_conversation import SessionConversation
    from services.worker.session_limits import (
        KEEP_SEEN_IDS,
        MAX_STEPS,
    )
    from services.worker.session_rules import (
        check_cancel,
        check_turn,
        duplicate_receipt,
    )
    from services.worker.session_state import (
        CARRY,
        Carry,
        carried_records,
        tool_call_records,
    )
    from services.worker.session_team import SessionTeam
    from services.worker.session_tools import TurnTools

# The session's title (its first message) in the workflow's memo, where the gateway's list of
# sessions reads it: an upsert is a history event that older histories do not have.
TITLE_PATCH = "session-title-memo"


@workflow.defn(name=SESSION_WORKFLOW)
class SessionWorkflow:
    @workflow.init
    def __init__(self, start: SessionStart) -> None:
        carry = (
            CARRY.validate_python(start.carried)
            if start.carried
            else Carry(created_at=workflow.now().isoformat())
        )
        self.start = start.model_copy(update={"carried": None})
        self.key = BusKey(start.tenant_id, start.session_id)
        self.created_at = carry.created_at
        self.team = SessionTeam(start.agent, carry.roster)
        self.records: dict[str, TurnRecord] = {r.turn_id: r for r in carry.records}
        self.queue: list[TurnRequest] = list(carry.queue)
        self.seen: list[str] = list(carry.seen)
        for request in self.queue:
            self.records.setdefault(request.turn_id, self._new_record(request))
        self.outbox = Outbox(self.key, carry.outbox)
        self.conversation = SessionConversation(self.key, self._publish, carry)
        self.running: str | None = None
        self.turn_task: asyncio.Task[None] | None = None
        self.tools = TurnTools(self.start, self.key, self._publish)
        self.ended = False
        self.closed = False
        self.turns_this_run = 0
        self._cancel_reason: str | None = None
        self._end_reason: str | None = None
        # Set at start by the gateway when the first message started the session; else below.
        self.title: str | None = workflow.memo_value(TITLE_MEMO, None, type_hint=str)

    # -- the main loop ---------------------------------------------------------------------

    @workflow.run
    async def run(self, start: SessionStart) -> None:
        delivery = asyncio.create_task(self.outbox.deliver_forever())
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
                # An end_session arriving now must not wait on this wait (it waits on `closed`).
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() or self.ended
                )
                if not self.ended:
                    carried = CARRY.dump_python(self._carry(), mode="json")
                    workflow.continue_as_new(
                        self.start.model_copy(update={"carried": carried}),
                        # The next run starts with the memo it was started with unless given
                        # one: an upserted title would be lost.
                        memo=dict(workflow.memo()) if self.title else None,
                    )
        for request in self.queue:
            self._finish_cancelled(request.turn_id, "session ended")
        self.queue.clear()
        self._publish(SessionEnded(session_id=self.start.session_id, reason=self._end_reason))
        try:  # give the bus a while to take the last events; readers derive the rest
            await workflow.wait_condition(lambda: self.outbox.empty, timeout=timedelta(minutes=1))
        except TimeoutError:
            workflow.logger.warning(
                "session ended with %d events undelivered", len(self.outbox.waiting)
            )
        delivery.cancel()
        self.closed = True
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _should_continue_as_new(self) -> bool:
        return (
            workflow.info().is_continue_as_new_suggested()
            or (
                self.team.roster is not None
                and self.turns_this_run >= self.team.roster.turns_per_run
            )
        ) and not self.ended

    def _carry(self) -> Carry:
        finished = [r for r in self.records.values() if r.status not in ("queued", "running")]
        return Carry(
            created_at=self.created_at,
            roster=self.team.roster,
            conversation_id=self.conversation.conversation_id,
            anchor=self.conversation.anchor,
            needs_restart=self.conversation.needs_restart,
            owed=self.conversation.owed,
            records=carried_records(finished),
            queue=list(self.queue),
            seen=self.seen[-KEEP_SEEN_IDS:],
            outbox=list(self.outbox.waiting),
        )

    # -- one turn --------------------------------------------------------------------------

    async def _run_turn(self, request: TurnRequest) -> None:
        # The turn's spans and events join the trace of the request that submitted it.
        with turn_context(request.trace_context, self.start.session_id, request.turn_id):
            await self._turn(request)

    async def _turn(self, request: TurnRequest) -> None:
        record = self.records[request.turn_id]
        record.status = "running"
        record.started_at = workflow.now().isoformat()
        self.running = request.turn_id
        try:
            text, usage, steps, agent = await self._converse(request)
        except (asyncio.CancelledError, CancelledError):
            self.conversation.needs_restart = True
            self._finish_cancelled(request.turn_id, self._cancel_reason)
        except (ActivityError, ApplicationError) as err:
            self.conversation.needs_restart = True
            if isinstance(err.cause, CancelledError):  # the activity acknowledged our cancel
                self._finish_cancelled(request.turn_id, self._cancel_reason)
                return
            error = turn_error(err)
            self._finish(record, "failed", error=error)
            self._publish(
                TurnFailed(
                    session_id=self.start.session_id,
                    turn_id=request.turn_id,
                    error=error,
                )
            )
        else:
            record.steps, record.agent = steps, agent
            self._finish(record, "completed", output=text, usage=usage)
            self._publish(
                TurnCompleted(
                    session_id=self.start.session_id,
                    turn_id=request.turn_id,
                    output=text,
                    usage=usage,
                )
            )
        finally:
            self.running = None

    async def _converse(self, request: TurnRequest) -> tuple[str, TurnUsage, int, str | None]:
        await self.team.get()
        usage = TurnUsage()
        tool_steps: list[PriorEntry] = []  # this turn's calls and results, to seed a new one
        for step in range(MAX_STEPS):
            result = await self.conversation.step(
                request, step, tool_steps, self.team.for_step, self.records.values()
            )
            usage = usage.add(result.usage)
            if result.gap_after is not None:
                self._publish(
                    StreamGap(
                        session_id=self.start.session_id,
                        turn_id=request.turn_id,
                        after=result.gap_after,
                    )
                )
            if not result.function_calls:
                return result.text, usage, step + 1, result.agent
            calls = result.function_calls
            # Results land in what the conversation owes as each call ends (kept if the turn
            # is stopped half-way); the next step hands them over.
            owed = self.conversation.owed = self.tools.placeholders(calls)
            try:
                await self.tools.run(request.turn_id, step, await self.team.get(), calls, owed)
            finally:  # what ran (or was refused, or never ran) shows in the transcript
                record = self.records[request.turn_id]
                record.tool_calls = tool_call_records(record.tool_calls, calls, owed)
            tool_steps += seeding.tool_step(calls, owed)
        raise ApplicationError(
            f"the agents asked for tools {MAX_STEPS} times without answering",
            type=StepErrors.STEP_LIMIT,
            non_retryable=True,
        )

    # -- records and events ----------------------------------------------------------------

    def _new_record(self, request: TurnRequest) -> TurnRecord:
        return TurnRecord(
            turn_id=request.turn_id,
            status="queued",
            submitted_at=workflow.now().isoformat(),
            input=request.input,
        )

    def _finish(self, record: TurnRecord, status: TurnStatus, **fields: Any) -> None:
        record.status = status
        record.finished_at = workflow.now().isoformat()
        for name, value in fields.items():
            setattr(record, name, value)
        metrics.turn_ended(status, record.submitted_at)

    def _finish_cancelled(self, turn_id: str, reason: str | None) -> None:
        self._finish(self.records[turn_id], "cancelled")
        self._publish(
            TurnCancelled(session_id=self.start.session_id, turn_id=turn_id, reason=reason)
        )

    def _publish(self, event: Event, *, once: str | None = None) -> None:
        """Hand a workflow-level event to the outbox: it never waits, fails or cancels."""
        self.outbox.put(event, once=once)

    # -- updates and the query -------------------------------------------------------------

    @workflow.update(name=SUBMIT_TURN)
    async def submit_turn(self, request: TurnRequest) -> TurnReceipt:
        existing = self.records.get(request.turn_id)
        if existing is not None or request.turn_id in self.seen:
            return duplicate_receipt(request.turn_id, self.records, self.queue)
        self.seen.append(request.turn_id)
        record = self.records[request.turn_id] = self._new_record(request)
        if self.title is None and workflow.patched(TITLE_PATCH):
            # The oldest turn the session knows: this one, unless the session is older than
            # the patch (its first turns ran on a worker without it).
            first = next((r.input for r in self.records.values() if r.input.strip()), "")
            self.title = session_title(first or request.input)
            workflow.upsert_memo({TITLE_MEMO: self.title})
        interrupted: list[str] = []
        if request.on_busy == "interrupt" and self.running is not None:
            interrupted.append(self.running)
            self._cancel_running("interrupted by a newer turn")
            self.queue.insert(0, request)
            return TurnReceipt(
                turn_id=request.turn_id,
                status=record.status,
                position=1,
                interrupted=interrupted,
                submitted_at=request.submitted_at,
            )
        position = len(self.queue) + (1 if self.running is not None else 0)
        if position:
            with attached(request.trace_context):
                self._publish(
                    TurnQueued(
                        session_id=self.start.session_id,
                        turn_id=request.turn_id,
                        position=position,
                    )
                )
        self.queue.append(request)
        return TurnReceipt(
            turn_id=request.turn_id,
            status=record.status,
            position=position,
            submitted_at=request.submitted_at,
        )

    @submit_turn.validator
    def _validate_turn(self, request: TurnRequest) -> None:
        if request.turn_id in self.records or request.turn_id in self.seen:
            return  # a retry: answered with the original receipt
        check_turn(request, ended=self.ended, running=self.running, queue=self.queue)

    def _cancel_running(self, reason: str) -> None:
        if self.turn_task is not None and not self.turn_task.done():
            self._cancel_reason = reason
            self.turn_task.cancel()

    @workflow.update(name=CANCEL_TURN)
    async def cancel_turn(self, request: CancelRequest) -> CancelReceipt:
        queued = next((r for r in self.queue if r.turn_id == request.turn_id), None)
        if queued is not None:
            self.queue.remove(queued)
            self._finish_cancelled(request.turn_id, request.reason or "cancelled")
        elif self.running == request.turn_id:
            self._cancel_running(request.reason or "cancelled")
            record = self.records[request.turn_id]
            await workflow.wait_condition(lambda: record.status != "running")
        return CancelReceipt(turn_id=request.turn_id, status=self.records[request.turn_id].status)

    @cancel_turn.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        check_cancel(request.turn_id, self.records.get(request.turn_id))

    @workflow.update(name=DECIDE_APPROVAL)
    async def decide_approval(self, decision: ApprovalDecision) -> None:
        await self.tools.decide(decision)

    @decide_approval.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        self.tools.check_decision(decision, turn_running=self.running is not None)

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
            pending_approvals=self.tools.waiting(),
            conversation_id=self.conversation.conversation_id,
        )

    @workflow.query(name=TRANSCRIPT_QUERY)
    def transcript(self, request: TranscriptRequest) -> TranscriptPage:
        return transcript_page(list(self.records.values()), request)
