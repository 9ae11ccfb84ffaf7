"""A workflow that fails in a real worker process (telemetry on) closes as failed.

The tracing interceptor records the failure on the workflow's span; with logfire and OpenTelemetry
imported inside the workflow sandbox, that import read os.environ and the workflow task itself
failed, retried for ever: a roster that could not be registered (MCP down when a session began)
never closed, and every later session joined it and waited (chaos matrix, MCP down at start).
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from scripts.stack.processes import ManagedProcess, apoll, free_port, python_module
from services.common.sessions import (
    SESSION_WORKFLOW,
    SUBMIT_TURN,
    SessionStart,
    TurnReceipt,
    TurnRequest,
    workflow_id,
)
from tests.fixtures.mistral_sim import MistralSim, start_mistral_sim


async def test_a_roster_that_cannot_register_fails_instead_of_hanging(
    tmp_path: Path, temporal_server: Any, temporal_client: Client, redis_url: str
) -> None:
    # A simulator of its own: the roster workflow's id names the Mistral endpoint.
    sim: MistralSim = start_mistral_sim(tmp_path / "sim")
    task_queue = f"failing-{uuid.uuid4().hex[:8]}"
    env = {
        "TEMPORAL_ADDRESS": temporal_server.address,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "REDIS_URL": redis_url,
        "MISTRAL_SERVER_URL": sim.url,
        "MCP_SERVER_URL": f"http://127.0.0.1:{free_port()}/mcp",  # nothing listens: MCP is down
        "MCP_AUTH_TOKEN": "a-token-of-sixteen-chars",
    }
    worker = ManagedProcess("worker", python_module("services.worker"), log_dir=tmp_path, env=env)
    worker.start()
    try:
        # A session's turn resolves the team from inside a traced activity, as in production.
        sid = f"ses_{uuid.uuid4().hex[:10]}"
        handle = await temporal_client.start_workflow(
            SESSION_WORKFLOW,
            SessionStart(session_id=sid, tenant_id="t1", user_id="u1"),
            id=workflow_id("t1", sid),
            task_queue=task_queue,
        )
        await handle.execute_update(
            SUBMIT_TURN,
            TurnRequest(turn_id="turn_1", input="hello"),
            id="turn_1",
            result_type=TurnReceipt,
        )
        origin = hashlib.sha256(sim.url.encode()).hexdigest()[:10]
        roster = temporal_client.get_workflow_handle(f"roster/nutrisense/{origin}")

        async def closed_as_failed() -> bool:
            try:
                return (await roster.describe()).status == WorkflowExecutionStatus.FAILED
            except RPCError:
                return False  # not started yet

        assert await apoll(closed_as_failed, 40, interval=0.5), worker.log_tail(60)
        assert "RestrictedWorkflowAccessError" not in worker.log_tail(2000)
        await handle.terminate()
    finally:
        worker.stop()
        sim.process.stop()
