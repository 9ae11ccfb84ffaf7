"""Assembling a worker: its clients, its activities and the two workflows.

Sessions run on the task queue; the roster workflow and its registration activity on a queue of
their own (see `roster_task_queue`), polled by a small second Worker in the same process.
"""

from __future__ import annotations

import functools
import hashlib
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from services.common.bus import EventBus
from services.common.redis_client import check_redis, redis_client
from services.worker.activities import SessionActivities, roster_task_queue
from services.worker.catalog import publishing_teams
from services.worker.mcp_servers import McpServers
from services.worker.mistral_client import make_client, warm_up
from services.worker.roster_workflow import RosterWorkflow
from services.worker.session_workflow import SessionWorkflow
from services.worker.settings import WorkerSettings

# Tracing runs inside workflows (the interceptor's spans): its modules must be the process's own.
# Imported afresh in the sandbox, logfire's lazy import on a failed workflow's span read
# os.environ and failed the workflow task itself, for ever (a roster that could not register
# never closed; tests/integration/worker/test_failed_workflow.py). redis: a connection pool
# collected during a workflow step imports lazily (ConnectionPool.__del__), which the sandbox
# would load afresh, with a warning each time.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "logfire", "opentelemetry", "redis"
    )
)


def session_runner(settings: WorkerSettings) -> WorkflowRunner:
    """How the session workflow runs: by default outside the sandbox.

    The sandbox re-executes the workflow's modules for every new instance (each new session,
    continue-as-new or cache miss) and proxies every payload into it: about 20 ms of worker CPU
    per new session's turn (docs/benchmarks.md). What it guards against (a clock, randomness or
    I/O in workflow code) is checked where it costs nothing: every test that runs the session
    workflow (tests/integration/worker) runs it in the SDK's default, sandboxed runner, which
    fails on such a call, and the replay tests replay its histories. `WORKFLOW_SANDBOX=true`
    turns it back on in production.
    """
    return WORKFLOW_RUNNER if settings.workflow_sandbox else UnsandboxedWorkflowRunner()


@functools.cache
def code_build_id() -> str:
    """The worker's build id: a hash of this repository's service code.

    Without one, `Worker()` hashes the bytecode of every loaded module (seconds of CPU at each
    start, which restarts and scale-ups wait on). Only our own code decides what a workflow
    does; the SDK's version is in the lock file, so a hash of both names the build. Worked out
    once per process: every worker the process builds shares it.
    """
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for path in sorted((root / "services").rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    lock = root / "uv.lock"
    if lock.exists():
        digest.update(lock.read_bytes())
    return f"durable-agents-{digest.hexdigest()[:16]}"


@dataclass
class WorkerParts:
    worker: Worker
    activities: SessionActivities


async def build_worker(
    settings: WorkerSettings,
    client: Client,
    stack: AsyncExitStack,
    *,
    task_queue: str,
) -> WorkerParts:
    """A ready Worker; `stack` owns its Redis, Mistral and MCP clients."""
    # Bounded and retried on a fresh connection: a paused or restarted Redis must cost a step
    # its live events at most, never stall or fail it.
    redis = redis_client(settings)
    stack.push_async_callback(redis.aclose)
    await check_redis(redis, settings)  # settings that cannot work stop the worker here
    mistral = make_client(settings)
    warm_up(mistral)
    stack.push_async_callback(mistral.__aexit__, None, None, None)
    # The team files, checked before anything runs: a bad one stops the worker (one line).
    mcp = McpServers.from_settings(settings)
    stack.push_async_callback(mcp.aclose)
    # The log's limits as the operator set them: the worker publishes almost every event.
    bus = EventBus(redis, maxlen=settings.event_log_maxlen, ttl_s=settings.event_log_ttl_s)
    activities = SessionActivities(settings, bus, mistral, mcp, client)
    await stack.enter_async_context(
        publishing_teams(redis, mcp, settings.agent_model, settings.approval_tool_names)
    )
    build_id = settings.worker_build_id or code_build_id()
    roster_worker = Worker(
        client,
        task_queue=roster_task_queue(task_queue),
        workflows=[RosterWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        build_id=build_id,
        activities=[activities.register_team],
        max_concurrent_activities=4,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_s),
    )
    # Runs as long as `stack`: it stops after the session worker, before the clients it uses.
    await stack.enter_async_context(roster_worker)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[SessionWorkflow],
        workflow_runner=session_runner(settings),
        build_id=build_id,
        activities=[
            activities.converse,
            activities.call_tool,
            activities.publish_event,
            activities.resolve_roster,
        ],
        max_concurrent_activities=settings.max_concurrent_activities,
        # Fast failover when a worker dies (HEARTBEAT + this 1 s: docs/architecture.md#faults).
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
        # Heartbeats carry cancellation back, so a cancel lands within about 1 s; a beat a second
        # leaves three to miss before the 3 s timeout, and each beat is a call to Temporal (half
        # as many as at 0.5 s: -8% worker and -7% Temporal CPU per turn, docs/benchmarks.md).
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_s),
    )
    return WorkerParts(worker, activities)
