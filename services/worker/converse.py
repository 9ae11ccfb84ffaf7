"""One model round trip of a turn (a "step"), streamed from Mistral onto the event bus.

The first step of a conversation starts it on the roster's entry agent; later steps append to
it. A retried step (attempt > 1) or a step after a cancelled or failed turn never appends: the
conversation may already hold this input (Mistral would store it twice) or still be locked (409),
so it restarts from the last entry of the last completed step, which makes a new conversation
that replaces the old one. Clients are told with `turn.retry` to drop the step's partial text.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2
import orjson
from mistralai.client import Mistral
from mistralai.client import models as m
from mistralai.client.utils import eventstreaming
from mistralai.client.utils.unmarshal_json_response import unmarshal_json_response
from pydantic import TypeAdapter, ValidationError
from temporalio.exceptions import ApplicationError

from services.common.events import AgentHandoff, Event, MessageDelta, ToolCall, ToolResult
from services.common.sessions import TurnUsage
from services.worker.activity_types import (
    ConverseInput,
    ConverseResult,
    FunctionCall,
    PriorEntry,
    json_object,
)
from services.worker.errors import StepErrors
from services.worker.mistral_client import classify, lost
from services.worker.spans import model_span, record_answer


class Publisher(Protocol):
    """Where a step's events go (delivery.StepPublisher): in order; deltas not waited on."""

    async def __call__(self, event: Event, *, once: str | None = None) -> bool: ...

    def post(self, event: MessageDelta) -> None: ...


@dataclass
class StepState:
    """What a step's stream has said so far."""

    conversation_id: str | None = None
    last_entry_id: str | None = None
    agent: str | None = None
    # The model that answered, as the stream names it (for the model call's span).
    model: str | None = None
    text: list[str] = field(default_factory=list)
    calls: dict[str, FunctionCall] = field(default_factory=dict)
    usage: TurnUsage | None = None

    def result(self) -> ConverseResult:
        if self.conversation_id is None:
            raise ApplicationError(
                "the model stream never started a conversation", type=StepErrors.MODEL_UNAVAILABLE
            )
        if self.usage is None:
            raise ApplicationError(
                "the model stream ended before conversation.response.done",
                type=StepErrors.MODEL_UNAVAILABLE,
            )
        return ConverseResult(
            conversation_id=self.conversation_id,
            last_entry_id=self.last_entry_id,
            text="".join(self.text),
            function_calls=list(self.calls.values()),
            usage=self.usage,
            agent=self.agent,
        )


InputEntry = m.MessageInputEntry | m.FunctionCallEntry | m.FunctionResultEntry


def prior_entry(entry: PriorEntry) -> InputEntry:
    if entry.kind == "function.call":
        return m.FunctionCallEntry(
            tool_call_id=entry.call_id or "", name=entry.name or "", arguments=entry.text
        )
    if entry.kind == "function.result":
        return m.FunctionResultEntry(tool_call_id=entry.call_id or "", result=entry.text)
    return m.MessageInputEntry(role=entry.kind, content=entry.text)


def request_inputs(step: ConverseInput) -> str | list[InputEntry]:
    """What the step sends: a seed (if any), results owed to the calls, then the user's words.

    A bare user message goes as a string, as the SDK's own examples send it.
    """
    if step.user_input is not None and not step.prior and not step.function_outputs:
        return step.user_input
    entries: list[InputEntry] = [prior_entry(entry) for entry in step.prior]
    entries += [
        m.FunctionResultEntry(tool_call_id=output.call_id, result=output.output)
        for output in step.function_outputs
    ]
    if step.user_input is not None:
        entries.append(m.MessageInputEntry(role="user", content=step.user_input))
    return entries


async def open_stream(
    client: Mistral, step: ConverseInput, *, restart: bool
) -> AsyncIterator[m.ConversationEvents]:
    """The SSE stream for this step: start, append, or restart from the last entry.

    A 404 means Mistral lost what the request names (the conversation, or the entry agent for
    a start): it becomes ConversationLost / AgentLost, which the workflow mends.
    """
    inputs: Any = request_inputs(step)
    conversations = client.beta.conversations
    try:
        if step.conversation_id is not None and not restart:
            return await conversations.append_stream_async(
                conversation_id=step.conversation_id, inputs=inputs
            )
        if restart and step.anchor is not None:
            return await conversations.restart_stream_async(
                conversation_id=step.anchor.conversation_id,
                from_entry_id=step.anchor.entry_id,
                inputs=inputs,
            )
    except Exception as exc:
        raise (lost(exc, "conversation") or classify(exc)) from exc
    # Nothing completed yet in any conversation of this session: begin a fresh one.
    try:
        return await conversations.start_stream_async(
            agent_id=step.entry_agent_id,
            agent_version=step.entry_agent_version,
            inputs=inputs,
        )
    except Exception as exc:
        raise (lost(exc, "agent") or classify(exc)) from exc


_EVENTS: TypeAdapter[m.ConversationEvents] = TypeAdapter(m.ConversationEvents)


def fast_decoding(
    stream: AsyncIterator[m.ConversationEvents],
) -> AsyncIterator[m.ConversationEvents]:
    """The same stream, parsed by httpx2's own SSE decoder and decoded with one TypeAdapter.

    The SDK scans the body byte by byte in Python, re-encodes each event as JSON, and decodes
    it by building a fresh pydantic model class around it (`create_model` per event, ~0.3 ms;
    ~0.01 ms with a TypeAdapter made once): those were the worker's largest costs per delta.
    Anything the adapter rejects goes through the SDK's own decoder, so a malformed event
    fails exactly as before. The SDK's generator has not started when this runs, so swapping
    it loses nothing; closing the stream still closes the response (EventStreamAsync.close).
    """
    if not isinstance(stream, eventstreaming.EventStreamAsync):
        return stream
    stream.generator = _events(stream.response)
    return stream


async def _events(response: httpx2.Response) -> AsyncGenerator[m.ConversationEvents, None]:
    try:
        async for sse in httpx2.EventSource(response, max_event_size=None):
            if sse.data:  # as the SDK: an event without data is skipped
                yield _decode(response, sse.event, sse.data)
    finally:
        await response.aclose()


def _decode(response: httpx2.Response, event: str, data: str) -> m.ConversationEvents:
    try:
        payload: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        payload = data  # as the SDK: left as text, for the decoder to reject
    try:
        return _EVENTS.validate_python({"event": event, "data": payload})
    except ValidationError:
        raw = json.dumps({"event": event, "data": payload})
        return unmarshal_json_response(m.ConversationEvents, response, raw)


class StepRelay:
    """Turns Mistral stream events into bus events and the step's result."""

    def __init__(self, step: ConverseInput, publish: Publisher) -> None:
        self.step = step
        self.publish = publish
        self.state = StepState(agent=step.agent_names.get(step.entry_agent_id))
        self._pending_builtin: dict[str, str] = {}

    def _common(self) -> dict[str, str]:
        return {"session_id": self.step.context.session_id, "turn_id": self.step.context.turn_id}

    async def handle(self, event: m.ConversationEvents) -> None:
        data = event.data
        state = self.state
        if isinstance(data, m.ResponseStartedEvent):
            state.conversation_id = data.conversation_id
        elif isinstance(data, m.MessageOutputEvent):
            state.last_entry_id = data.id
            self._track_agent(data.agent_id)
            self._track_model(data.model)
            text = data.content if isinstance(data.content, str) else _chunk_text(data.content)
            if text:
                state.text.append(text)
                self.publish.post(MessageDelta(**self._common(), text=text, agent=state.agent))
        elif isinstance(data, m.FunctionCallEvent):
            state.last_entry_id = data.id
            self._track_agent(data.agent_id)
            self._track_model(data.model)
            call = state.calls.get(data.tool_call_id)
            if call is None:
                state.calls[data.tool_call_id] = FunctionCall(
                    data.tool_call_id, data.name, data.arguments, state.agent
                )
            else:
                call.arguments += data.arguments
        elif isinstance(data, m.AgentHandoffDoneEvent):
            state.last_entry_id = data.id
            previous, state.agent = state.agent, data.next_agent_name
            await self.publish(
                AgentHandoff(**self._common(), from_agent=previous, to_agent=data.next_agent_name)
            )
        elif isinstance(data, m.AgentHandoffStartedEvent):
            state.last_entry_id = data.id
        elif isinstance(data, m.ToolExecutionStartedEvent):
            state.last_entry_id = data.id
            self._pending_builtin[data.id] = str(data.name)
            await self.publish(
                ToolCall(
                    **self._common(),
                    call_id=data.id,
                    name=str(data.name),
                    arguments=json_object(data.arguments),
                    agent=state.agent,
                )
            )
        elif isinstance(data, m.ToolExecutionDoneEvent):
            state.last_entry_id = data.id
            name = self._pending_builtin.pop(data.id, str(data.name))
            output = json.dumps(data.info, default=str) if data.info else ""
            await self.publish(
                ToolResult(**self._common(), call_id=data.id, name=name, output=output)
            )
        elif isinstance(data, m.ResponseDoneEvent):
            usage = data.usage
            state.usage = TurnUsage(
                prompt_tokens=usage.prompt_tokens or 0,
                completion_tokens=usage.completion_tokens or 0,
                total_tokens=usage.total_tokens or 0,
            )
        elif isinstance(data, m.ResponseErrorEvent):
            raise ApplicationError(
                f"Mistral failed mid-stream (code {data.code}): {data.message}",
                {"code": data.code},
                type=StepErrors.MODEL_STREAM_ERROR,
            )

    async def announce_calls(self) -> None:
        """Function calls are complete only at the end of the stream: announce them then."""
        for call in self.state.calls.values():
            await self.publish(
                ToolCall(
                    **self._common(),
                    call_id=call.call_id,
                    name=call.name,
                    arguments=json_object(call.arguments),
                    agent=call.agent,
                )
            )

    def _track_model(self, model: Any) -> None:
        if isinstance(model, str) and model:
            self.state.model = model

    def _track_agent(self, agent_id: Any) -> None:
        if isinstance(agent_id, str):
            self.state.agent = self.step.agent_names.get(agent_id, self.state.agent)


def _chunk_text(chunk: Any) -> str:
    return str(getattr(chunk, "text", "") or "")


async def run_step(
    client: Mistral,
    step: ConverseInput,
    publish: Publisher,
    *,
    restart: bool,
    model: str | None = None,
) -> ConverseResult:
    relay = StepRelay(step, publish)
    with model_span(step, model) as span:
        try:
            stream = fast_decoding(await open_stream(client, step, restart=restart))
            async with stream as events:  # type: ignore[attr-defined]
                async for event in events:
                    await relay.handle(event)
        except ApplicationError:
            raise
        except Exception as exc:
            raise classify(exc) from exc
        result = relay.state.result()
        state = relay.state
        record_answer(
            span, model=state.model, conversation_id=state.conversation_id, usage=result.usage
        )
    await relay.announce_calls()
    return result
