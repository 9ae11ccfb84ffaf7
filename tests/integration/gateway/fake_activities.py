"""The model and tool side of a session, scripted, for the real `SessionWorkflow`.

Activities under the real activity names (`SessionActivities` in services/worker/activities.py)
with their input and output types, as in Temporal's samples: the workflow under test is the real
one, and only Mistral and the MCP servers are stand-ins. Replies are deterministic and driven by
words in the input: a turn answers "NutriSense (fake) heard: <its first 20 words>"; `slow`
streams 40 deltas 25 ms apart; `hold` streams them and then runs until cancelled; the word `late`
sends the turn's first event only once the test sets `fake:go:<session id>` in Redis (a model
slow to start, for as long as the test needs); `approval`
first calls `log_meal`, which the team runs only once a person approves. Events reach the bus
through the worker's own publisher (services/worker/delivery.py), as the real activities'.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from scripts.stack.processes import apoll
from services.common.bus import EventBus
from services.common.events import MessageDelta, ToolCall, ToolResult, TurnStarted
from services.common.sessions import TurnUsage
from services.worker.activities import tool_result_once
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
from services.worker.delivery import StepPublisher
from services.worker.session_workflow import SessionWorkflow
from services.worker.worker import WORKFLOW_RUNNER

AGENT = AgentRef("nutrisense", "ag_fake_nutrisense", 1)
APPROVAL_TOOL = "log_meal"
# A `late` turn of session S starts once this key + S exists in Redis.
LATE_GO_PREFIX = "fake:go:"


def reply_words(text: str) -> list[str]:
    """The deterministic answer, word by word (40 words for a `slow` or `hold` turn)."""
    if "slow" in text or "hold" in text:
        return [f"w{n}" for n in range(40)]
    return ["NutriSense", "(fake)", "heard:", *text.split()[:20]]


class FakeActivities:
    def __init__(self, bus: EventBus, delay_s: float = 0.025) -> None:
        self.bus = bus
        self.delay_s = delay_s

    @activity.defn(name="resolve_roster")
    async def resolve_roster(self, request: RosterRequest) -> Roster:
        return Roster(
            team=request.team,
            entry=AGENT,
            agents=[AGENT],
            spec_hash="fake",
            approval_tools=[APPROVAL_TOOL],
        )

    @activity.defn(name="converse")
    async def converse(self, step: ConverseInput) -> ConverseResult:
        context = step.context
        publish = StepPublisher(self.bus, context.key, context.turn_id)
        common = {"session_id": context.session_id, "turn_id": context.turn_id}
        # A later step hears the tools' results instead of the person.
        heard = step.user_input or " ".join(o.output for o in step.function_outputs)
        try:
            if "late" in (step.user_input or "").split():
                await self._go_ahead(context.session_id)
            if step.announce:
                await publish(TurnStarted(**common, agent=AGENT.name))
            if "approval" in (step.user_input or ""):
                call = FunctionCall("call_1", APPROVAL_TOOL, '{"food": "eggs"}', AGENT.name)
                arguments = {"food": "eggs"}
                await publish(
                    ToolCall(**common, call_id=call.call_id, name=call.name, arguments=arguments)
                )
                return self._result(step, [], [call])
            words = reply_words(heard)
            await self._stream(publish, common, words, heard)
            return self._result(step, words, [])
        finally:
            await publish.drain()  # the step's events go out before its result does

    async def _go_ahead(self, session_id: str) -> None:
        """Wait for the test's go-ahead for a `late` turn (never past a few seconds)."""

        async def given() -> bool:
            return bool(await self.bus.redis.exists(f"{LATE_GO_PREFIX}{session_id}"))

        if not await apoll(given, 5, interval=0.01):
            raise RuntimeError(f"no go-ahead for the late turn of {session_id}")

    async def _stream(
        self, publish: StepPublisher, common: dict[str, str], words: list[str], heard: str
    ) -> None:
        """The answer's deltas; a `hold` turn then runs on, silent, until it is cancelled."""
        paced, held = "slow" in heard or "hold" in heard, "hold" in heard
        for index in itertools.count():
            activity.heartbeat()  # brings a cancel back: the next await raises it
            if index < len(words):
                text = words[index] + ("" if index == len(words) - 1 else " ")
                await publish(MessageDelta(**common, text=text, agent=AGENT.name))
            elif not held:
                return
            if paced:
                await asyncio.sleep(self.delay_s)

    @staticmethod
    def _result(step: ConverseInput, words: list[str], calls: list[FunctionCall]) -> ConverseResult:
        context = step.context
        return ConverseResult(
            conversation_id=f"conv_{context.session_id}",
            last_entry_id=f"entry_{context.turn_id}_{context.step}",
            text=" ".join(words),
            function_calls=calls,
            usage=TurnUsage(
                prompt_tokens=3, completion_tokens=len(words), total_tokens=3 + len(words)
            ),
            agent=AGENT.name,
        )

    @activity.defn(name="call_tool")
    async def call_tool(self, request: ToolInput) -> FunctionOutput:
        call, context = request.call, request.context
        output = FunctionOutput(call.call_id, call.name, "logged")
        publish = StepPublisher(self.bus, context.key, context.turn_id)
        result = ToolResult(
            session_id=context.session_id,
            turn_id=context.turn_id,
            call_id=call.call_id,
            name=call.name,
            output=output.output,
        )
        output.published = await publish(
            result, once=tool_result_once(context.turn_id, call.call_id)
        )
        return output

    @activity.defn(name="publish_event")
    async def publish_event(self, request: PublishInput) -> str:
        return await self.bus.publish(request.key, request.event, once=request.once)


def scripted_session_worker(
    client: Client, bus: EventBus, task_queue: str, interceptors: Sequence[Interceptor] = ()
) -> Worker:
    """A worker of the real session workflow, in the SDK's sandbox (which fails the workflow on
    a clock, randomness or I/O), with the scripted side."""
    fakes = FakeActivities(bus)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[SessionWorkflow],
        workflow_runner=WORKFLOW_RUNNER,  # the worker's own sandbox
        activities=[fakes.resolve_roster, fakes.converse, fakes.call_tool, fakes.publish_event],
        interceptors=interceptors,
        # Cancellation reaches an activity on its heartbeat: keep that prompt.
        max_heartbeat_throttle_interval=timedelta(milliseconds=100),
        default_heartbeat_throttle_interval=timedelta(milliseconds=100),
    )
