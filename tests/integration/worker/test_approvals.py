"""Tools configured to need approval wait for a person's decision, with a timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from scripts.stack.processes import apoll
from services.common.events import ApprovalRequired, ApprovalResolved, ToolResult, parse_event
from services.common.sessions import DECIDE_APPROVAL, ApprovalDecision, SessionErrors
from tests.fixtures.worker import SessionDriver, running_worker

LOG_QUERY = "Log the food for breakfast - I had 2 eggs and 1 cup of coffee."


async def approval_request(driver: SessionDriver, handle: Any) -> ApprovalRequired:
    found: list[ApprovalRequired] = []

    async def required() -> bool:
        async for event in driver.bus.read_after(driver.key(handle), None):
            parsed = parse_event(event.data)
            if isinstance(parsed, ApprovalRequired):
                found.append(parsed)
                return True
        return False

    assert await apoll(required, 20), "no approval.required event"
    return found[0]


@pytest.mark.parametrize(("approve", "logged"), [(True, True), (False, False)])
async def test_approval_gates_a_writing_tool(
    temporal_client: Client,
    bus_redis: Any,
    make_settings: Callable[..., Any],
    approve: bool,
    logged: bool,
) -> None:
    settings = make_settings(approval_tools="food_log")
    async with running_worker(temporal_client, bus_redis, settings) as driver:
        handle = await driver.start()
        turn = await driver.submit(handle, LOG_QUERY)
        request = await approval_request(driver, handle)
        assert request.name == "food_log"
        assert request.arguments == {"user_query": LOG_QUERY}
        status = await driver.status(handle)
        assert status.pending_approvals[0].approval_id == request.approval_id
        await handle.execute_update(
            DECIDE_APPROVAL,
            ApprovalDecision(approval_id=request.approval_id, approve=approve, reason="checked"),
        )
        events = [parse_event(e.data) for e in await driver.events_until_done(handle, turn.turn_id)]
        resolved = [e for e in events if isinstance(e, ApprovalResolved)]
        assert [(r.approval_id, r.approved) for r in resolved] == [(request.approval_id, approve)]
        result = next(e for e in events if isinstance(e, ToolResult))
        assert result.is_error is (not logged)
        if not logged:
            assert "did not approve" in result.output
        assert events[-1].type == "turn.completed"
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await handle.execute_update(
                DECIDE_APPROVAL, ApprovalDecision(approval_id=request.approval_id, approve=True)
            )
        assert isinstance(caught.value.cause, ApplicationError)
        assert caught.value.cause.type == SessionErrors.UNKNOWN_APPROVAL


async def test_approval_times_out_as_denied(
    temporal_client: Client, bus_redis: Any, make_settings: Callable[..., Any]
) -> None:
    settings = make_settings(approval_tools="writes", approval_timeout_s=0.3)
    async with running_worker(temporal_client, bus_redis, settings) as driver:
        handle = await driver.start()
        turn = await driver.submit(handle, LOG_QUERY)
        events = [parse_event(e.data) for e in await driver.events_until_done(handle, turn.turn_id)]
        resolved = [e for e in events if isinstance(e, ApprovalResolved)]
        assert len(resolved) == 1
        assert not resolved[0].approved
        assert resolved[0].reason == "no decision in time"
        assert events[-1].type == "turn.completed"
