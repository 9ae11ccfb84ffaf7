"""The real SessionWorkflow with fake activities under the real names (samples-python style):
rules of a turn that the simulator's agents cannot provoke on demand."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from scripts.stack.processes import apoll
from services.common.sessions import (
    DECIDE_APPROVAL,
    END_SESSION,
    SESSION_WORKFLOW,
    STATUS_QUERY,
    SUBMIT_TURN,
    ApprovalDecision,
    EndRequest,
    SessionErrors,
    SessionStart,
    SessionStatus,
    TurnReceipt,
    TurnRequest,
    TurnUsage,
    workflow_id,
)
from services.worker.activity_types import (
    AgentRef,
    ConverseInput,
    ConverseResult,
    FunctionCall,
    FunctionOutput,
    PublishInput,
    Roster,
    RosterRequest,
    ToolInput,
)
from services.worker.errors import StepErrors
from services.worker.session_workflow import SessionWorkflow

ENTRY = AgentRef("router-agent", "ag_router", 1)
USAGE = TurnUsage(prompt_tokens=1, completion_tokens=1, total_tokens=2)


@dataclass
class FakeSide:
    """What the fake activities saw and published."""

    events: list[dict[str, Any]] = field(default_factory=list)
    tools_run: list[str] = field(default_factory=list)
    roster_calls: int = 0
    roster_failures: int = 0
    turns_per_run: int = 100
    # A "slow" turn's model step waits for this (the test lets it finish when it is ready).
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name="resolve_roster")
    async def resolve_roster(self, request: RosterRequest) -> Roster:
        self.roster_calls += 1
        if self.roster_calls <= self.roster_failures:
            raise ApplicationError(
                "MCP is down", type=StepErrors.TEAM_REGISTRATION_FAILED, non_retryable=True
            )
        return Roster(
            team=request.team,
            entry=ENTRY,
            agents=[ENTRY],
            spec_hash="fake",
            approval_tools=["log_meal"],
            turns_per_run=self.turns_per_run,
        )

    @activity.defn(name="converse")
    async def converse(self, step: ConverseInput) -> ConverseResult:
        if "slow" in (step.user_input or ""):
            await self.release.wait()
        if step.context.step == 0 and "tools" in (step.user_input or ""):
            calls = [
                FunctionCall("call_slow", "lookup", "{}"),
                FunctionCall("call_write", "log_meal", '{"food": "eggs"}'),
            ]
            return ConverseResult("conv_1", "fc_2", "", calls, USAGE)
        return ConverseResult("conv_1", f"msg_{step.context.step}", "done", [], USAGE)

    @activity.defn(name="call_tool")
    async def call_tool(self, request: ToolInput) -> FunctionOutput:
        self.tools_run.append(request.call.name)
        await asyncio.sleep(0.2)
        raise ApplicationError(
            "lookup is down", type=StepErrors.TOOL_UNAVAILABLE, non_retryable=True
        )

    @activity.defn(name="publish_event")
    async def publish_event(self, request: PublishInput) -> str:
        self.events.append(request.event.model_dump())
        return f"{len(self.events)}-0"


@pytest.fixture
async def fake(temporal_client: Client) -> AsyncIterator[tuple[FakeSide, str]]:
    side = FakeSide()
    queue = f"rules-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[SessionWorkflow],
        activities=[side.resolve_roster, side.converse, side.call_tool, side.publish_event],
    ):
        yield side, queue


async def start(client: Client, queue: str) -> WorkflowHandle[Any, Any]:
    sid = f"ses_{uuid.uuid4().hex[:10]}"
    start = SessionStart(session_id=sid, tenant_id="t1", user_id="u1")
    return await client.start_workflow(
        SESSION_WORKFLOW, start, id=workflow_id("t1", sid), task_queue=queue
    )


async def submit(handle: WorkflowHandle[Any, Any], text: str) -> TurnReceipt:
    request = TurnRequest(turn_id=f"turn_{uuid.uuid4().hex[:10]}", input=text)
    receipt: TurnReceipt = await handle.execute_update(
        SUBMIT_TURN, request, id=request.turn_id, result_type=TurnReceipt
    )
    return receipt


async def finished(handle: WorkflowHandle[Any, Any], turn_id: str) -> SessionStatus:
    status: list[SessionStatus] = []

    async def over() -> bool:
        status[:] = [await handle.query(STATUS_QUERY, result_type=SessionStatus)]
        return status[0].turn_over(turn_id)

    assert await apoll(over, 20), f"{turn_id} never finished"
    return status[0]


async def test_a_failing_call_stops_its_siblings_and_a_late_approval_runs_nothing(
    temporal_client: Client, fake: tuple[FakeSide, str]
) -> None:
    side, queue = fake
    handle = await start(temporal_client, queue)
    receipt = await submit(handle, "run two tools")
    status = await finished(handle, receipt.turn_id)
    (turn,) = status.turns
    assert (turn.status, turn.error.code if turn.error else None) == ("failed", "tool_unavailable")
    # The write waited for approval; the turn ended first: it is refused, and never ran.
    required = [e for e in side.events if e["type"] == "approval.required"]
    assert len(required) == 1
    resolved = [e for e in side.events if e["type"] == "approval.resolved"]
    assert [(e["approved"], e["reason"]) for e in resolved] == [(False, "the turn ended first")]
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(
            DECIDE_APPROVAL, ApprovalDecision(approval_id=required[0]["approval_id"], approve=True)
        )
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == SessionErrors.UNKNOWN_APPROVAL
    assert side.tools_run == ["lookup"]
    assert status.pending_approvals == []


async def test_a_team_that_could_not_be_registered_is_registered_at_the_next_turn(
    temporal_client: Client, fake: tuple[FakeSide, str]
) -> None:
    side, queue = fake
    side.roster_failures = 1  # MCP was down when the session began
    handle = await start(temporal_client, queue)
    first = await submit(handle, "hello")
    status = await finished(handle, first.turn_id)
    assert status.turns[0].error is not None
    assert status.turns[0].error.code == "agent_unavailable"
    second = await submit(handle, "hello again")
    status = await finished(handle, second.turn_id)
    assert [t.status for t in status.turns] == ["failed", "completed"]
    assert side.roster_calls == 2


async def test_a_decision_for_an_approval_nobody_asked_for_is_refused(
    temporal_client: Client, fake: tuple[FakeSide, str]
) -> None:
    side, queue = fake
    handle = await start(temporal_client, queue)
    idle = ApprovalDecision(approval_id="apr_nobody", approve=True)
    with pytest.raises(WorkflowUpdateFailedError) as caught:  # no turn runs: refused at once
        await handle.execute_update(DECIDE_APPROVAL, idle)
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == SessionErrors.UNKNOWN_APPROVAL
    # While a turn runs, an id not asked for yet may be a step a new worker replays: it waits
    # a few seconds for it, then is refused all the same.
    receipt = await submit(handle, "run two tools")
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(DECIDE_APPROVAL, idle)
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == SessionErrors.UNKNOWN_APPROVAL
    await finished(handle, receipt.turn_id)
    assert side.tools_run == ["lookup"]


async def test_ending_the_session_while_it_waits_to_continue_as_new_ends_it(
    temporal_client: Client, fake: tuple[FakeSide, str]
) -> None:
    side, queue = fake
    side.turns_per_run = 1  # every turn ends the run: continue-as-new waits for the handlers
    handle = await start(temporal_client, queue)
    receipt = await submit(handle, "a slow turn")
    # A handler still running when the turn ends (a decision waiting for its approval) holds
    # the continue-as-new; the end of the session arrives during that wait.
    waiting = await handle.start_update(
        DECIDE_APPROVAL,
        ApprovalDecision(approval_id="apr_soon", approve=True),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,  # past its validator, in its handler
    )
    side.release.set()
    await finished(handle, receipt.turn_id)
    async with asyncio.timeout(20):  # before the fix: never (each waited on the other)
        await handle.execute_update(END_SESSION, EndRequest(reason="done"))
    with pytest.raises(WorkflowUpdateFailedError):
        await waiting.result()
    ended = [e["type"] for e in side.events if e["type"] == "session.ended"]
    assert ended == ["session.ended"]
