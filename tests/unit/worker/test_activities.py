"""The session activities without servers (activities.py): a tool call's arguments, result and
failures; what a model step announces before it streams; and the labels and keys they use."""

from __future__ import annotations

import asyncio
import dataclasses
from types import SimpleNamespace
from typing import Any, cast

import pytest
from mcp.types import CallToolResult, TextContent
from mistralai.client import Mistral
from mistralai.client import models as m
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import ActivityEnvironment

from services.common.bus import EventBus
from services.worker.activities import (
    SessionActivities,
    heartbeating,
    known_team,
    outcome_of,
    roster_task_queue,
    tool_result_once,
)
from services.worker.activity_types import (
    ConverseInput,
    FunctionCall,
    FunctionOutput,
    StepContext,
    ToolInput,
)
from services.worker.errors import StepErrors
from services.worker.mcp_servers import McpServers
from services.worker.mcp_tools import McpUnavailable
from services.worker.settings import WorkerSettings
from tests.unit.worker.fake_bus import FakeBus

CONTEXT = StepContext("t/s_1", "s_1", "turn_1", 2)


class FakeMcp:
    """The worker's MCP servers: answers each call with `answer` (or raises it)."""

    def __init__(self, answer: CallToolResult | BaseException | None = None) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any], float]] = []
        self.teams = SimpleNamespace(names=list, get=lambda name: None)

    async def call_tool(
        self, request: ToolInput, arguments: dict[str, Any], meta: dict[str, Any], timeout_s: float
    ) -> CallToolResult:
        self.calls.append((request.call.name, arguments, meta, timeout_s))
        if isinstance(self.answer, BaseException):
            raise self.answer
        if self.answer is None:
            await asyncio.Event().wait()  # a server that never answers: the timeout ends it
        assert isinstance(self.answer, CallToolResult)
        return self.answer

    def label(self, request: ToolInput) -> str:
        return "http://mcp.test/mcp"


def activities(
    bus: FakeBus, mcp: FakeMcp, mistral: Any = None, tool_timeout_s: float = 30.0
) -> SessionActivities:
    settings = WorkerSettings.model_construct(tool_timeout_s=tool_timeout_s)
    return SessionActivities(
        settings, cast(EventBus, bus), cast(Mistral, mistral), cast(McpServers, mcp)
    )


def tool_input(arguments: str, **fields: Any) -> ToolInput:
    call = FunctionCall("call_1", "food_log", arguments, "food")
    return ToolInput(CONTEXT, call, tenant_id="acme", user_id="u_1", **fields)


def answer(text: str, *, error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=error)


async def call_tool(bus: FakeBus, mcp: FakeMcp, request: ToolInput, **kw: Any) -> FunctionOutput:
    output: FunctionOutput = await ActivityEnvironment().run(
        activities(bus, mcp, **kw).call_tool, request
    )
    return output


# -- tool calls ------------------------------------------------------------------------------


async def test_a_call_goes_with_its_arguments_and_an_idempotency_key() -> None:
    bus, mcp = FakeBus(), FakeMcp(answer("Logged 2 eggs."))
    output = await call_tool(bus, mcp, tool_input('{"food": "egg"}', timezone="Europe/Paris"))
    assert output == FunctionOutput("call_1", "food_log", "Logged 2 eggs.", False, True)
    assert mcp.calls == [
        (
            "food_log",
            {"food": "egg"},
            {
                "user_id": "u_1",
                "tenant_id": "acme",
                "idempotency_key": "turn_1:call_1",
                "timezone": "Europe/Paris",
            },
            30.0,
        )
    ]
    assert bus.published() == [
        (
            {
                "type": "tool.result",
                "turn_id": "turn_1",
                "call_id": "call_1",
                "name": "food_log",
                "output": "Logged 2 eggs.",
                "is_error": False,
            },
            "turn_1:call_1:tool.result",
        )
    ]


async def test_no_arguments_are_an_empty_object_and_no_timezone_is_not_sent() -> None:
    bus, mcp = FakeBus(), FakeMcp(answer("ok"))
    await call_tool(bus, mcp, tool_input(""))
    assert mcp.calls[0][1:3] == (
        {},
        {"user_id": "u_1", "tenant_id": "acme", "idempotency_key": "turn_1:call_1"},
    )


async def test_a_refusal_of_the_server_is_an_error_result_the_model_reads() -> None:
    bus, mcp = FakeBus(), FakeMcp(answer("unknown food", error=True))
    output = await call_tool(bus, mcp, tool_input("{}"))
    assert (output.output, output.is_error) == ("Error: unknown food", True)
    assert bus.published()[0][0]["is_error"] is True


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ("{not json", "Invalid arguments: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "Invalid arguments: arguments are not a JSON object"),
        ('"text"', "Invalid arguments: arguments are not a JSON object"),
    ],
)
async def test_arguments_that_are_no_json_object_are_an_error_result_and_no_call(
    arguments: str, says: str
) -> None:
    bus, mcp = FakeBus(), FakeMcp(answer("never"))
    output = await call_tool(bus, mcp, tool_input(arguments))
    assert output.is_error
    assert output.output.startswith(says)
    assert mcp.calls == []
    assert [(fields["output"], fields["is_error"]) for fields, _ in bus.published()] == [
        (output.output, True)
    ]


@pytest.mark.parametrize(
    ("failure", "says"),
    [
        (McpUnavailable("no MCP session"), "McpUnavailable: no MCP session"),
        (ConnectionRefusedError("refused"), "ConnectionRefusedError: refused"),
        (
            ExceptionGroup("transport", [OSError("reset")]),
            "ExceptionGroup: transport (1 sub-exception)",
        ),
    ],
)
async def test_an_unreachable_server_fails_the_call_as_a_retryable_unavailable_tool(
    failure: BaseException, says: str
) -> None:
    bus, mcp = FakeBus(), FakeMcp(failure)
    with pytest.raises(ApplicationError) as caught:
        await call_tool(bus, mcp, tool_input("{}"))
    assert caught.value.type == StepErrors.TOOL_UNAVAILABLE
    assert caught.value.message == f"MCP server http://mcp.test/mcp failed on food_log: {says}"
    assert not caught.value.non_retryable
    assert caught.value.__cause__ is failure
    assert bus.published() == []  # the retry (or the workflow) tells the result


async def test_a_server_slower_than_the_tool_timeout_is_an_unavailable_tool() -> None:
    bus, mcp = FakeBus(), FakeMcp(None)
    with pytest.raises(ApplicationError) as caught:
        await call_tool(bus, mcp, tool_input("{}"), tool_timeout_s=0.05)
    assert caught.value.type == StepErrors.TOOL_UNAVAILABLE
    # The exception's type alone when it has no text (once "TimeoutError: ", a dangling colon).
    assert caught.value.message == "MCP server http://mcp.test/mcp failed on food_log: TimeoutError"


async def test_a_bug_in_a_call_is_not_disguised_as_an_unavailable_tool() -> None:
    bus, mcp = FakeBus(), FakeMcp(KeyError("tenant"))
    with pytest.raises(KeyError):
        await call_tool(bus, mcp, tool_input("{}"))


# -- model steps -----------------------------------------------------------------------------


class OneAnswer:
    """client.beta.conversations answering any request with a started, "Hi" and done stream
    (with `hang`: a stream that says "Hi" and then nothing more)."""

    def __init__(self, *, hang: bool = False) -> None:
        self.requests: list[str] = []
        self.hang = hang

    async def _stream(self, kind: str) -> Any:
        self.requests.append(kind)
        usage = m.ConversationUsageInfo(total_tokens=3)
        return Stream(
            [
                m.ConversationEvents(
                    event="conversation.response.started",
                    data=m.ResponseStartedEvent(conversation_id="conv_1"),
                ),
                m.ConversationEvents(
                    event="message.output.delta", data=m.MessageOutputEvent(id="e1", content="Hi")
                ),
                m.ConversationEvents(
                    event="conversation.response.done", data=m.ResponseDoneEvent(usage=usage)
                ),
            ][: 2 if self.hang else 3],
            hang=self.hang,
        )

    async def start_stream_async(self, **_: Any) -> Any:
        return await self._stream("start")

    async def append_stream_async(self, **_: Any) -> Any:
        return await self._stream("append")


class Stream:
    def __init__(self, items: list[m.ConversationEvents], *, hang: bool = False) -> None:
        self.items = items
        self.hang = hang

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def __aiter__(self) -> Any:
        return self._each()

    async def _each(self) -> Any:
        for item in self.items:
            yield item
        if self.hang:
            await asyncio.Event().wait()


async def converse(attempt: int, **fields: Any) -> tuple[FakeBus, OneAnswer]:
    bus, conversations = FakeBus(), OneAnswer()
    mistral = SimpleNamespace(beta=SimpleNamespace(conversations=conversations))
    step = ConverseInput(
        CONTEXT, "ag_desk", 1, {"ag_desk": "desk"}, conversation_id="conv_1", **fields
    )
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    result = await env.run(activities(bus, FakeMcp(), mistral).converse, step)
    assert (result.text, result.gap_after) == ("Hi", None)
    return bus, conversations


def types(bus: FakeBus) -> list[str]:
    return [fields["type"] for fields, _ in bus.published()]


async def test_a_first_attempt_appends_and_announces_the_turn_when_asked() -> None:
    bus, conversations = await converse(1, announce=True)
    assert conversations.requests == ["append"]
    assert bus.published()[0] == (
        {"type": "turn.started", "turn_id": "turn_1", "agent": "desk"},
        None,
    )
    assert types(bus) == ["turn.started", "message.delta"]
    bus, _ = await converse(1)
    assert types(bus) == ["message.delta"]


async def test_a_retried_step_says_so_first_and_never_appends_again() -> None:
    bus, conversations = await converse(3, announce=True)
    assert bus.published()[0] == (
        {"type": "turn.retry", "turn_id": "turn_1", "step": 2, "attempt": 3, "reason": "retrying"},
        None,
    )
    assert types(bus) == ["turn.retry", "message.delta"]
    # Nothing completed to fork from (no anchor): a new conversation, not a second append.
    assert conversations.requests == ["start"]


async def test_a_cancelled_step_publishes_what_it_streamed_before_it_ends() -> None:
    bus, conversations = FakeBus(), OneAnswer(hang=True)
    bus.gate = asyncio.Event()
    mistral = SimpleNamespace(beta=SimpleNamespace(conversations=conversations))
    step = ConverseInput(CONTEXT, "ag_desk", 1, {"ag_desk": "desk"}, conversation_id=None)
    env = ActivityEnvironment()
    running = asyncio.ensure_future(env.run(activities(bus, FakeMcp(), mistral).converse, step))
    for _ in range(500):  # until the delta is on the wire
        if bus.attempts:
            break
        await asyncio.sleep(0.01)
    env.cancel()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not running.done()  # it waits for its events to go out
    bus.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert types(bus) == ["message.delta"]


# -- labels and keys -------------------------------------------------------------------------


def test_an_outcome_is_a_bounded_label() -> None:
    assert outcome_of(asyncio.CancelledError()) == "cancelled"
    assert outcome_of(CancelledError("Cancelled")) == "cancelled"
    assert (
        outcome_of(ApplicationError("x", type=StepErrors.MODEL_RATE_LIMITED)) == "modelratelimited"
    )
    assert outcome_of(ApplicationError("x", type=StepErrors.TOOL_UNAVAILABLE)) == (
        "toolunavailable"
    )
    assert outcome_of(ApplicationError("untyped")) == "error"
    assert outcome_of(ValueError("bug")) == "error"


def test_keys_and_queues_are_named_from_their_parts() -> None:
    assert tool_result_once("turn_1", "call_9") == "turn_1:call_9:tool.result"
    assert roster_task_queue("sessions") == "sessions-roster"


def test_an_unknown_team_is_not_retried() -> None:
    mcp = SimpleNamespace(teams=SimpleNamespace(get=lambda name: None, names=lambda: ["office"]))
    with pytest.raises(ApplicationError) as caught:
        known_team(cast(McpServers, mcp), "nutri")
    assert caught.value.type == StepErrors.UNKNOWN_TEAM == "UnknownAgentTeam"
    assert caught.value.non_retryable
    assert caught.value.message == "unknown agent team 'nutri'; known: ['office']"


async def test_a_step_shorter_than_a_beat_sends_no_heartbeat_and_a_longer_one_does() -> None:
    """Temporal times the heartbeat timeout from the start, so a beat at once buys nothing and
    costs a call to the server per step (most tool calls end well within a second)."""
    beats: list[float] = []
    second_beat = asyncio.Event()

    def on_heartbeat(*_: Any) -> None:
        beats.append(asyncio.get_running_loop().time())
        if len(beats) == 2:
            second_beat.set()

    env = ActivityEnvironment()
    env.on_heartbeat = on_heartbeat

    async def quick() -> None:
        async with heartbeating(every_s=0.05):
            await asyncio.sleep(0)

    async def slow() -> None:
        async with heartbeating(every_s=0.05), asyncio.timeout(5):
            await second_beat.wait()

    await env.run(quick)
    assert beats == []
    began = asyncio.get_running_loop().time()
    await env.run(slow)
    assert beats[0] - began >= 0.05  # the first beat waited its interval
