"""A turn's function calls: a person's approval first where the team asks for it, then the
`call_tool` activity, in parallel for the calls of one step.

Each result lands in the list the workflow hands in as soon as it is known, so a turn stopped
half-way still gives the conversation what did run (session_workflow.py keeps that list as the
results it owes the model). One call that fails stops the others, and an approval still pending
when its turn ends is resolved as refused: nothing of an ended turn may write.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from services.common.events import ApprovalRequired, ApprovalResolved, Event, ToolResult
    from services.common.sessions import (
        ApprovalDecision,
        BusKey,
        SessionStart,
        WaitingApproval,
    )
    from services.worker import metrics
    from services.worker.activities import SessionActivities, tool_result_once
    from services.worker.activity_types import (
        FunctionCall,
        FunctionOutput,
        Roster,
        StepContext,
        ToolInput,
        json_object,
    )
    from services.worker.session_limits import (
        APPROVAL_GRACE,
        HEARTBEAT,
        NOT_RUN,
        STOPPED_WHILE_RUNNING,
        TOOL_RETRY,
    )
    from services.worker.session_rules import unknown_approval
    from services.worker.session_state import PendingApproval


class Publish(Protocol):
    """Hands an event to the session's outbox (services/worker/outbox.py): never waits."""

    def __call__(self, event: Event, *, once: str | None = None) -> None: ...


class TurnTools:
    def __init__(self, start: SessionStart, key: BusKey, publish: Publish) -> None:
        self.start = start
        self.key = key
        self.publish = publish
        self.approvals: dict[str, PendingApproval] = {}

    def waiting(self) -> list[WaitingApproval]:
        """The approvals a person can still decide, for the session's status."""
        return [
            WaitingApproval(approval_id=p.approval_id, turn_id=p.turn_id, tool=p.call.name)
            for p in self.approvals.values()
            if p.approved is None
        ]

    def check_decision(self, decision: ApprovalDecision, *, turn_running: bool) -> None:
        """Refuse a decision for an approval that is decided or cannot be about to be asked
        for (none is pending and no turn runs)."""
        pending = self.approvals.get(decision.approval_id)
        decided = pending is not None and pending.approved is not None
        if decided or (pending is None and not turn_running):
            raise unknown_approval(decision.approval_id)

    async def decide(self, decision: ApprovalDecision) -> None:
        """Record a person's decision; the waiting tool call goes on with it."""
        # `approval.required` goes out before the workflow task that asked for it is committed;
        # a worker that dies then leaves the next one to replay that step, and a decision sent
        # at once can be handled before the replay has asked again (same id): wait a little.
        try:
            await workflow.wait_condition(
                lambda: decision.approval_id in self.approvals, timeout=APPROVAL_GRACE
            )
        except TimeoutError:
            raise unknown_approval(decision.approval_id) from None
        pending = self.approvals[decision.approval_id]
        if pending.approved is not None:
            raise unknown_approval(decision.approval_id)
        pending.approved, pending.reason = decision.approve, decision.reason

    @staticmethod
    def placeholders(calls: list[FunctionCall]) -> list[FunctionOutput]:
        """What each call's result is until it runs (and stays, if the turn ends first)."""
        return [FunctionOutput(c.call_id, c.name, NOT_RUN, is_error=True) for c in calls]

    async def run(
        self,
        turn_id: str,
        step: int,
        roster: Roster,
        calls: list[FunctionCall],
        results: list[FunctionOutput],
    ) -> None:
        """Run the step's calls, filling `results` (one per call, in order) as they finish."""
        tasks = [
            asyncio.create_task(self._call(turn_id, step, roster, call, index, results))
            for index, call in enumerate(calls)
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _call(
        self,
        turn_id: str,
        step: int,
        roster: Roster,
        call: FunctionCall,
        index: int,
        results: list[FunctionOutput],
    ) -> None:
        if call.name in roster.approval_tools:
            approved, reason = await self._await_approval(turn_id, roster, call)
            if not approved:
                refusal = f"The user did not approve running {call.name}" + (
                    f": {reason}" if reason else "."
                )
                results[index] = FunctionOutput(call.call_id, call.name, refusal, is_error=True)
                self._publish_result(turn_id, results[index])
                return
        results[index] = FunctionOutput(call.call_id, call.name, STOPPED_WHILE_RUNNING, True)
        output = await workflow.execute_activity_method(
            SessionActivities.call_tool,
            ToolInput(
                context=StepContext.of(self.key, turn_id, step),
                call=call,
                tenant_id=self.start.tenant_id,
                user_id=self.start.user_id,
                timezone=self.start.timezone,
                team=roster.team,
                tool=roster.tools.get(call.name),
            ),
            start_to_close_timeout=timedelta(seconds=roster.tool_timeout_s + 10),
            heartbeat_timeout=HEARTBEAT,
            retry_policy=TOOL_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        results[index] = output
        if not output.published:  # the bus was down: the outbox delivers it once it is back
            self._publish_result(turn_id, output)

    def _publish_result(self, turn_id: str, output: FunctionOutput) -> None:
        self.publish(
            ToolResult(
                session_id=self.start.session_id,
                turn_id=turn_id,
                call_id=output.call_id,
                name=output.name,
                output=output.output,
                is_error=output.is_error,
            ),
            once=tool_result_once(turn_id, output.call_id),
        )

    async def _await_approval(
        self, turn_id: str, roster: Roster, call: FunctionCall
    ) -> tuple[bool, str | None]:
        approval_id = f"apr_{workflow.uuid4().hex[:20]}"
        pending = PendingApproval(approval_id, turn_id, call)
        self.approvals[approval_id] = pending
        metrics.approval_requested()
        timeout = timedelta(seconds=roster.approval_timeout_s)
        self.publish(
            ApprovalRequired(
                session_id=self.start.session_id,
                turn_id=turn_id,
                approval_id=approval_id,
                call_id=call.call_id,
                name=call.name,
                arguments=json_object(call.arguments),
                expires_at=(workflow.now() + timeout).isoformat(),
            )
        )
        try:
            await workflow.wait_condition(lambda: pending.approved is not None, timeout=timeout)
        except TimeoutError:
            pending.approved, pending.reason = False, "no decision in time"
        except asyncio.CancelledError:
            # The turn ended first: a decision that comes now can no longer run the tool.
            pending.approved, pending.reason = False, "the turn ended first"
            raise
        finally:
            self.approvals.pop(approval_id, None)
            metrics.approval_resolved(bool(pending.approved))
            self.publish(
                ApprovalResolved(
                    session_id=self.start.session_id,
                    turn_id=turn_id,
                    approval_id=approval_id,
                    approved=bool(pending.approved),
                    reason=pending.reason,
                )
            )
        return bool(pending.approved), pending.reason
