"""One model step without a server (converse.py): which request a step makes, how the streamed
answer is relayed as events (deltas, handoffs, tool calls), and what its failures become."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import httpx2
import pytest
from mistralai.client import Mistral
from mistralai.client import models as m
from mistralai.client.errors import SDKError
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from services.common.sessions import TurnUsage
from services.worker.activity_types import (
    Anchor,
    ConverseInput,
    ConverseResult,
    FunctionCall,
    PriorEntry,
    StepContext,
)
from services.worker.converse import open_stream, prior_entry, run_step
from services.worker.errors import StepErrors

NAMES = {"ag_desk": "desk", "ag_food": "food"}


class Recorder:
    """A step's publisher that keeps what was published (waited on) and posted, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, BaseModel]] = []

    async def __call__(self, event: BaseModel, *, once: str | None = None) -> bool:
        self.sent.append(("publish", event))
        return True

    def post(self, event: BaseModel) -> None:
        self.sent.append(("post", event))

    def seen(self) -> list[tuple[str, dict[str, Any]]]:
        """Each event as how it went and its fields, without the ids and time every one has."""
        common = {"ts", "session_id", "turn_id"}
        for _, event in self.sent:
            ids = event.model_dump(include={"session_id", "turn_id"})
            assert ids == {"session_id": "s_1", "turn_id": "turn_1"}
        return [(how, event.model_dump(exclude=common)) for how, event in self.sent]


class FakeStream:
    """What the SDK's *_stream_async calls return: an async context manager over the events;
    an exception among them is raised when the stream reaches it."""

    def __init__(self, items: Sequence[m.ConversationEvents | BaseException]) -> None:
        self.items = list(items)
        self.closed = False

    async def __aenter__(self) -> FakeStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.closed = True

    def __aiter__(self) -> FakeStream:
        return self

    async def __anext__(self) -> m.ConversationEvents:
        if not self.items:
            raise StopAsyncIteration
        item = self.items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


class FakeConversations:
    """client.beta.conversations: records each request and answers with `answer`."""

    def __init__(self, answer: FakeStream | BaseException) -> None:
        self.answer = answer
        self.requests: list[tuple[str, dict[str, Any]]] = []

    async def _request(self, kind: str, fields: dict[str, Any]) -> FakeStream:
        self.requests.append((kind, fields))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    async def start_stream_async(self, **fields: Any) -> FakeStream:
        return await self._request("start", fields)

    async def append_stream_async(self, **fields: Any) -> FakeStream:
        return await self._request("append", fields)

    async def restart_stream_async(self, **fields: Any) -> FakeStream:
        return await self._request("restart", fields)


def client(conversations: FakeConversations) -> Mistral:
    return cast(Mistral, SimpleNamespace(beta=SimpleNamespace(conversations=conversations)))


def step(**fields: Any) -> ConverseInput:
    values: dict[str, Any] = {
        "context": StepContext("t/s_1", "s_1", "turn_1", 0),
        "entry_agent_id": "ag_desk",
        "entry_agent_version": 3,
        "agent_names": NAMES,
        "conversation_id": None,
        "user_input": "I had two eggs",
    } | fields
    return ConverseInput(**values)


def event(data: Any) -> m.ConversationEvents:
    return m.ConversationEvents(event=data.type, data=data)


def started(conversation_id: str = "conv_1") -> m.ConversationEvents:
    return event(m.ResponseStartedEvent(conversation_id=conversation_id))


def text(entry_id: str, content: Any, agent_id: str | None = None) -> m.ConversationEvents:
    return event(m.MessageOutputEvent(id=entry_id, content=content, agent_id=agent_id))


def call(entry_id: str, call_id: str, name: str, arguments: str) -> m.ConversationEvents:
    return event(
        m.FunctionCallEvent(id=entry_id, tool_call_id=call_id, name=name, arguments=arguments)
    )


def done(prompt: int | None = 10, completion: int | None = 5) -> m.ConversationEvents:
    total = None if prompt is None or completion is None else prompt + completion
    usage = m.ConversationUsageInfo(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=total
    )
    return event(m.ResponseDoneEvent(usage=usage))


async def run(
    items: Sequence[m.ConversationEvents | BaseException], **fields: Any
) -> tuple[ConverseResult, Recorder]:
    publish = Recorder()
    conversations = FakeConversations(FakeStream(items))
    result = await run_step(client(conversations), step(**fields), publish, restart=False)
    return result, publish


async def failure(items: Sequence[m.ConversationEvents | BaseException]) -> tuple[Any, Recorder]:
    publish = Recorder()
    conversations = FakeConversations(FakeStream(items))
    with pytest.raises(ApplicationError) as caught:
        await run_step(client(conversations), step(), publish, restart=False)
    return caught.value, publish


# -- the stream relay ------------------------------------------------------------------------


async def test_a_stream_becomes_deltas_handoffs_and_calls_in_order() -> None:
    result, publish = await run(
        [
            started("conv_9"),
            text("e1", "Let me ", agent_id="ag_desk"),
            text("e1", "ask food.", agent_id="ag_desk"),
            event(
                m.AgentHandoffStartedEvent(
                    id="h1", previous_agent_id="ag_desk", previous_agent_name="desk"
                )
            ),
            event(
                m.AgentHandoffDoneEvent(id="h2", next_agent_id="ag_food", next_agent_name="food")
            ),
            text("e2", "Logging.", agent_id="ag_food"),
            call("e3", "call_1", "food_log", '{"food": '),
            call("e3", "call_1", "food_log", '"egg", "count": 2}'),
            call("e4", "call_2", "goal_get", ""),
            done(12, 7),
        ]
    )
    assert publish.seen() == [
        ("post", {"type": "message.delta", "text": "Let me ", "agent": "desk"}),
        ("post", {"type": "message.delta", "text": "ask food.", "agent": "desk"}),
        ("publish", {"type": "agent.handoff", "from_agent": "desk", "to_agent": "food"}),
        ("post", {"type": "message.delta", "text": "Logging.", "agent": "food"}),
        # Function calls are announced once the stream is over, with their whole arguments.
        (
            "publish",
            {
                "type": "tool.call",
                "call_id": "call_1",
                "name": "food_log",
                "arguments": {"food": "egg", "count": 2},
                "agent": "food",
            },
        ),
        (
            "publish",
            {
                "type": "tool.call",
                "call_id": "call_2",
                "name": "goal_get",
                "arguments": {},
                "agent": "food",
            },
        ),
    ]
    assert result == ConverseResult(
        conversation_id="conv_9",
        last_entry_id="e4",
        text="Let me ask food.Logging.",
        function_calls=[
            FunctionCall("call_1", "food_log", '{"food": "egg", "count": 2}', "food"),
            FunctionCall("call_2", "goal_get", "", "food"),
        ],
        usage=TurnUsage(prompt_tokens=12, completion_tokens=7, total_tokens=19),
        agent="food",
    )


async def test_text_comes_as_a_string_or_a_text_chunk_and_nothing_else_is_said() -> None:
    result, publish = await run(
        [
            started(),
            text("e1", m.TextChunk(text="Hello")),
            text("e1", ""),
            text("e1", m.ThinkChunk(thinking=[m.TextChunk(text="hmm")])),
            text("e1", " there"),
            done(),
        ]
    )
    assert [fields["text"] for _, fields in publish.seen()] == ["Hello", " there"]
    assert result.text == "Hello there"


async def test_the_speaker_is_the_entry_agent_until_the_stream_names_another() -> None:
    result, publish = await run(
        [
            started(),
            text("e1", "a"),  # no agent named: the entry agent speaks
            text("e1", "b", agent_id="ag_unknown"),  # not of this team: no change
            text("e2", "c", agent_id="ag_food"),
            done(),
        ]
    )
    assert [fields["agent"] for _, fields in publish.seen()] == ["desk", "desk", "food"]
    assert result.agent == "food"
    nameless, publish = await run([started(), text("e1", "x"), done()], agent_names={})
    assert (nameless.agent, publish.seen()[0][1]["agent"]) == (None, None)


async def test_a_builtin_tool_is_told_as_its_call_and_its_result() -> None:
    result, publish = await run(
        [
            started(),
            event(
                m.ToolExecutionStartedEvent(id="t1", name="web_search", arguments='{"q": "kcal"}')
            ),
            event(m.ToolExecutionDoneEvent(id="t1", name="web_search", info={"hits": 3})),
            event(m.ToolExecutionStartedEvent(id="t2", name="code_interpreter", arguments="x=1")),
            event(m.ToolExecutionDoneEvent(id="t2", name="code_interpreter")),
            done(),
        ]
    )
    assert publish.seen() == [
        (
            "publish",
            {
                "type": "tool.call",
                "call_id": "t1",
                "name": "web_search",
                "arguments": {"q": "kcal"},
                "agent": "desk",
            },
        ),
        (
            "publish",
            {
                "type": "tool.result",
                "call_id": "t1",
                "name": "web_search",
                "output": '{"hits": 3}',
                "is_error": False,
            },
        ),
        (
            "publish",
            {
                "type": "tool.call",
                "call_id": "t2",
                "name": "code_interpreter",
                "arguments": {"_raw": "x=1"},
                "agent": "desk",
            },
        ),
        (
            "publish",
            {
                "type": "tool.result",
                "call_id": "t2",
                "name": "code_interpreter",
                "output": "",
                "is_error": False,
            },
        ),
    ]
    # Mistral ran these itself: they are no function calls the workflow owes a result.
    assert (result.function_calls, result.last_entry_id) == ([], "t2")


async def test_arguments_that_are_no_json_object_are_kept_wrapped() -> None:
    _, publish = await run(
        [started(), call("e1", "c1", "f", "not json"), call("e2", "c2", "g", "[1, 2]"), done()]
    )
    assert [fields["arguments"] for _, fields in publish.seen()] == [
        {"_raw": "not json"},
        {"_value": [1, 2]},
    ]


async def test_missing_token_counts_are_zero() -> None:
    result, _ = await run([started(), done(None, None)])
    assert result.usage == TurnUsage()
    assert (result.text, result.last_entry_id) == ("", None)


# -- failures of the stream ------------------------------------------------------------------


async def test_an_error_event_fails_the_step_with_its_code_and_no_call_is_announced() -> None:
    error, publish = await failure(
        [
            started(),
            text("e1", "Partial"),
            call("e2", "call_1", "food_log", "{}"),
            event(m.ResponseErrorEvent(message="internal error", code=3000)),
            done(),
        ]
    )
    assert error.type == StepErrors.MODEL_STREAM_ERROR
    assert error.message == "Mistral failed mid-stream (code 3000): internal error"
    assert error.details == ({"code": 3000},)
    assert not error.non_retryable
    assert [fields["type"] for _, fields in publish.seen()] == ["message.delta"]


async def test_a_dropped_stream_is_an_unavailable_model() -> None:
    error, publish = await failure(
        [started(), text("e1", "Half"), httpx2.ReadError("peer closed connection")]
    )
    assert error.type == StepErrors.MODEL_UNAVAILABLE
    assert error.message == (
        "Mistral could not be reached or dropped the stream: ReadError: peer closed connection"
    )
    assert isinstance(error.__cause__, httpx2.ReadError)
    assert [fields["text"] for _, fields in publish.seen()] == ["Half"]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "the model stream never started a conversation"),
        ([done()], "the model stream never started a conversation"),
        ([started(), text("e1", "Hi")], "the model stream ended before conversation.response.done"),
    ],
)
async def test_a_stream_that_ends_early_is_an_unavailable_model(
    items: list[m.ConversationEvents], message: str
) -> None:
    error, _ = await failure(items)
    assert (error.type, error.message, error.non_retryable) == (
        StepErrors.MODEL_UNAVAILABLE,
        message,
        False,
    )


async def test_the_stream_is_closed_whether_it_ends_or_fails() -> None:
    ended = FakeStream([started(), done()])
    await run_step(client(FakeConversations(ended)), step(), Recorder(), restart=False)
    dropped = FakeStream([started(), OSError("reset")])
    with pytest.raises(ApplicationError):
        await run_step(client(FakeConversations(dropped)), step(), Recorder(), restart=False)
    assert (ended.closed, dropped.closed) == (True, True)


# -- which request a step makes --------------------------------------------------------------


async def requested(
    *, restart: bool, answer: FakeStream | None = None, **fields: Any
) -> list[tuple[str, dict[str, Any]]]:
    conversations = FakeConversations(answer or FakeStream([]))
    await open_stream(client(conversations), step(**fields), restart=restart)
    return conversations.requests


async def test_a_first_step_starts_a_conversation_on_the_entry_agent() -> None:
    start = ("start", {"agent_id": "ag_desk", "agent_version": 3, "inputs": "I had two eggs"})
    assert await requested(restart=False) == [start]
    # An anchor alone forks nothing: only a step that must restart does.
    assert await requested(restart=False, anchor=Anchor("conv_0", "entry_7")) == [start]


async def test_a_later_step_appends_to_the_conversation() -> None:
    assert await requested(restart=False, conversation_id="conv_1") == [
        ("append", {"conversation_id": "conv_1", "inputs": "I had two eggs"})
    ]


async def test_a_restart_forks_from_the_anchor_even_in_another_conversation() -> None:
    anchor = Anchor("conv_0", "entry_7")
    assert await requested(restart=True, conversation_id="conv_1", anchor=anchor) == [
        (
            "restart",
            {"conversation_id": "conv_0", "from_entry_id": "entry_7", "inputs": "I had two eggs"},
        )
    ]


async def test_a_restart_with_nothing_completed_starts_afresh() -> None:
    requests = await requested(restart=True, conversation_id="conv_1")
    assert [kind for kind, _ in requests] == ["start"]


def http_error(status: int) -> SDKError:
    return SDKError("API error occurred", httpx2.Response(status, text="not found"), "not found")


@pytest.mark.parametrize(
    ("restart", "fields", "kind"),
    [
        (False, {"conversation_id": "conv_1"}, StepErrors.CONVERSATION_LOST),
        (True, {"anchor": Anchor("conv_1", "e1")}, StepErrors.CONVERSATION_LOST),
        (False, {}, StepErrors.AGENT_LOST),
        (True, {}, StepErrors.AGENT_LOST),
    ],
)
async def test_a_404_loses_the_conversation_or_the_agent(
    restart: bool, fields: dict[str, Any], kind: str
) -> None:
    conversations = FakeConversations(http_error(404))
    with pytest.raises(ApplicationError) as caught:
        await open_stream(client(conversations), step(**fields), restart=restart)
    assert caught.value.type == kind
    assert caught.value.non_retryable
    assert len(conversations.requests) == 1  # a lost conversation is not started anew here


@pytest.mark.parametrize(
    ("cause", "kind", "retried"),
    [
        (http_error(429), StepErrors.MODEL_RATE_LIMITED, True),
        (http_error(401), StepErrors.MODEL_REJECTED, False),
        (http_error(503), StepErrors.MODEL_UNAVAILABLE, True),
        (httpx2.ConnectError("refused"), StepErrors.MODEL_UNAVAILABLE, True),
    ],
)
async def test_other_failures_to_open_are_classified(
    cause: BaseException, kind: str, retried: bool
) -> None:
    for fields in ({}, {"conversation_id": "conv_1"}):
        with pytest.raises(ApplicationError) as caught:
            await open_stream(client(FakeConversations(cause)), step(**fields), restart=False)
        assert (caught.value.type, caught.value.non_retryable) == (kind, not retried)
        assert caught.value.__cause__ is cause


# -- what a step sends -----------------------------------------------------------------------


def test_prior_entries_become_the_sdks_entries() -> None:
    assert prior_entry(PriorEntry("function.call", '{"a": 1}', "call_1", "food_log")) == (
        m.FunctionCallEntry(tool_call_id="call_1", name="food_log", arguments='{"a": 1}')
    )
    assert prior_entry(PriorEntry("function.result", "logged", "call_1", "food_log")) == (
        m.FunctionResultEntry(tool_call_id="call_1", result="logged")
    )
    assert prior_entry(PriorEntry("assistant", "Hi!")) == m.MessageInputEntry(
        role="assistant", content="Hi!"
    )
    assert prior_entry(PriorEntry("user", "Hello")) == m.MessageInputEntry(
        role="user", content="Hello"
    )
