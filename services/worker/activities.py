"""The session's activities: model steps, tool calls, event publishing and the roster.

One instance per worker process holds what they share: the event bus, ONE Mistral client, ONE
MCP HTTP client and the Temporal client (to reach the roster workflow).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx2
from mcp.types import CallToolResult, TextContent
from mistralai.client import Mistral
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, CancelledError

from services.common.bus import EventBus
from services.common.events import ToolResult, TurnRetry, TurnStarted
from services.worker import metrics
from services.worker.activity_types import (
    ConverseInput,
    ConverseResult,
    FunctionOutput,
    PublishInput,
    Roster,
    RosterRequest,
    ToolInput,
)
from services.worker.agents import register_team
from services.worker.converse import run_step
from services.worker.delivery import StepPublisher
from services.worker.errors import StepErrors, cause_text
from services.worker.mcp_servers import McpServers
from services.worker.settings import WorkerSettings
from services.worker.spans import mark_turn
from services.worker.team_files import Team

log = logging.getLogger(__name__)

ROSTER_WORKFLOW = "RosterWorkflow"
ROSTER_CACHE_S = 60.0


def roster_task_queue(task_queue: str) -> str:
    """The roster workflow and its registration run on a queue (and slots) of their own:
    `resolve_roster` holds a session-queue slot while it waits for them, so a burst of new
    sessions must never take the slots the registration itself needs."""
    return f"{task_queue}-roster"


@contextlib.asynccontextmanager
async def heartbeating(every_s: float = 1.0) -> AsyncIterator[None]:
    """Heartbeat while waiting on something slow (a first token, a tool), so a dead worker shows.

    The first beat comes after `every_s`, not at once: Temporal times the heartbeat timeout from
    the attempt's start, so a worker that dies before any beat still shows within it, and a
    step that ends within a second (most tool calls) costs Temporal no heartbeat at all (each is
    a call that updates the activity's state on the server: docs/benchmarks.md)."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every_s)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def tool_result_once(turn_id: str, call_id: str) -> str:
    """The `once` key of a call's `tool.result`: whoever publishes it (the activity, or the
    workflow when the activity could not), it reaches the log once."""
    return f"{turn_id}:{call_id}:tool.result"


def known_team(mcp: McpServers, name: str) -> Team:
    team = mcp.teams.get(name)
    if team is None:
        raise ApplicationError(
            f"unknown agent team {name!r}; known: {mcp.teams.names()}",
            type=StepErrors.UNKNOWN_TEAM,
            non_retryable=True,
        )
    return team


class SessionActivities:
    def __init__(
        self,
        settings: WorkerSettings,
        bus: EventBus,
        mistral: Mistral,
        mcp: McpServers,
        temporal: Client | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.mistral = mistral
        self.mcp = mcp
        self.temporal = temporal
        self._rosters: dict[str, tuple[float, Roster]] = {}

    # -- model steps -----------------------------------------------------------------------

    @activity.defn
    async def converse(self, step: ConverseInput) -> ConverseResult:
        info = activity.info()
        context = step.context
        mark_turn(context.session_id, context.turn_id)
        publish = StepPublisher(self.bus, context.key, context.turn_id)
        common = {"session_id": context.session_id, "turn_id": context.turn_id}
        if info.attempt > 1:
            await publish(
                TurnRetry(**common, step=context.step, attempt=info.attempt, reason="retrying")
            )
        elif step.announce:
            entry = step.agent_names.get(step.entry_agent_id)
            await publish(TurnStarted(**common, agent=entry))

        if step.first_token_from is not None:
            submitted = step.first_token_from
            publish.on_first_text = lambda: metrics.first_token(submitted)
        try:
            async with heartbeating():  # a beat a second; not one per streamed event
                result = await run_step(
                    self.mistral,
                    step,
                    publish,
                    restart=step.restart or info.attempt > 1,
                    model=self._model_of(step),
                )
        except BaseException as exc:
            metrics.model_call(outcome_of(exc))
            raise
        finally:
            await publish.drain()  # the step's events go out before its result does
        metrics.model_call("ok")
        result.gap_after = publish.gap_after
        return result

    def _model_of(self, step: ConverseInput) -> str | None:
        """The model the step's entry agent was registered with (for its span), when the
        teams name it unambiguously."""
        name = step.agent_names.get(step.entry_agent_id)
        teams = [self.mcp.teams.get(t) for t in self.mcp.teams.names()]
        models = {
            team.agent_model(team.agents[name], self.settings.agent_model)
            for team in teams
            if team is not None and name in team.agents
        }
        return models.pop() if len(models) == 1 else None

    # -- tools -----------------------------------------------------------------------------

    @activity.defn
    async def call_tool(self, request: ToolInput) -> FunctionOutput:
        call = request.call
        mark_turn(request.context.session_id, request.context.turn_id)
        try:
            arguments = json.loads(call.arguments or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments are not a JSON object")
        except ValueError as exc:
            output = FunctionOutput(call.call_id, call.name, f"Invalid arguments: {exc}", True)
        else:
            meta = {
                "user_id": request.user_id,
                "tenant_id": request.tenant_id,
                # A retried call must not log the same food twice: the server keeps the key.
                "idempotency_key": f"{request.context.turn_id}:{call.call_id}",
            }
            if request.timezone:
                meta["timezone"] = request.timezone
            try:
                output = await self._call_mcp(request, arguments, meta)
            except BaseException as exc:
                metrics.tool_call(call.name, outcome_of(exc))
                raise
        outcome = "error" if output.is_error else "ok"
        metrics.tool_call(call.name, outcome)
        log.info("tool %s answered (%s)", call.name, outcome, extra={"tool": call.name})
        context = request.context
        publish = StepPublisher(self.bus, context.key, context.turn_id)
        output.published = await publish(
            ToolResult(
                session_id=context.session_id,
                turn_id=context.turn_id,
                call_id=call.call_id,
                name=call.name,
                output=output.output,
                is_error=output.is_error,
            ),
            # A retry of a call whose first attempt published before failing: not twice.
            once=tool_result_once(context.turn_id, call.call_id),
        )
        return output

    async def _call_mcp(
        self, request: ToolInput, arguments: dict[str, Any], meta: dict[str, Any]
    ) -> FunctionOutput:
        call = request.call
        timeout = self.settings.tool_timeout_s
        try:
            async with heartbeating():
                result = await asyncio.wait_for(
                    self.mcp.call_tool(request, arguments, meta, timeout), timeout
                )
        except (httpx2.HTTPError, OSError, TimeoutError, ExceptionGroup) as exc:
            raise ApplicationError(
                f"MCP server {self.mcp.label(request)} failed on {call.name}: {cause_text(exc)}",
                type=StepErrors.TOOL_UNAVAILABLE,
            ) from exc
        return FunctionOutput(call.call_id, call.name, result_text(result), result.is_error)

    # -- events ----------------------------------------------------------------------------

    @activity.defn
    async def publish_event(self, request: PublishInput) -> str:
        event = request.event
        mark_turn(event.session_id, event.turn_id, event=event.type)
        return await self.bus.publish(request.key, event, once=request.once)

    # -- the roster ------------------------------------------------------------------------

    @activity.defn
    async def register_team(self, request: RosterRequest) -> Roster:
        """Create or update the team's agents on Mistral (run by the singleton roster workflow)."""
        team = known_team(self.mcp, request.team)
        roster = await register_team(
            self.mistral,
            self.mcp,
            team,
            self.settings.agent_model,
            self.settings.approval_tool_names,
        )
        roster.approval_timeout_s = self.settings.approval_timeout_s
        roster.tool_timeout_s = self.settings.tool_timeout_s
        roster.turns_per_run = self.settings.session_turns_per_run
        return roster

    @activity.defn
    async def resolve_roster(self, request: RosterRequest) -> Roster:
        """The team as registered: through the roster workflow, so concurrent sessions never
        register twice; cached briefly per process."""
        known_team(self.mcp, request.team)
        # Agents belong to one Mistral endpoint: never share a registration between two.
        origin = hashlib.sha256(self.settings.mistral_url.encode()).hexdigest()[:10]
        cached = None if request.refresh else self._rosters.get(request.team)
        if cached is not None and time.monotonic() - cached[0] < ROSTER_CACHE_S:
            return cached[1]
        if self.temporal is None:
            raise RuntimeError("resolve_roster needs the worker's Temporal client")
        info = activity.info()
        try:
            roster: Roster = await self.temporal.execute_workflow(
                ROSTER_WORKFLOW,
                request,
                id=f"roster/{request.team}/{origin}",
                task_queue=roster_task_queue(info.task_queue),
                result_type=Roster,
                # Concurrent sessions join the one registration under way; a later one re-checks.
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                execution_timeout=timedelta(minutes=5),
            )
        except WorkflowFailureError as exc:
            raise ApplicationError(
                f"registering the agent team failed: {exc.cause}",
                type=StepErrors.TEAM_REGISTRATION_FAILED,
            ) from exc
        self._rosters[request.team] = (time.monotonic(), roster)
        return roster


def outcome_of(error: BaseException) -> str:
    """A failed step's or call's outcome label: the error's kind, from a bounded vocabulary."""
    if isinstance(error, asyncio.CancelledError | CancelledError):
        return "cancelled"
    if isinstance(error, ApplicationError) and error.type:
        return error.type.lower()
    return "error"


def result_text(result: CallToolResult) -> str:
    """What the model reads of a tool result: its text, else its structured content. A result
    the server marked as an error says so in words: a function result has no error flag, and
    a server's refusal ("calories goal 2e+06 is outside ...") can otherwise read as a success."""
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    if texts:
        text = "\n".join(texts)
    elif result.structured_content is not None:
        text = json.dumps(result.structured_content)
    else:
        text = ""
    if result.is_error and not text.lower().startswith("error"):
        return f"Error: {text}" if text else "Error: the tool failed without saying why"
    return text
