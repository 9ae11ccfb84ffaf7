"""Conversations through the real SDK: start, append, restart (JSON and SSE), reads, delete."""

from __future__ import annotations

import json

import pytest
from mistralai.client import Mistral, errors, models

from tests.integration.mistral_sim.sdk import WEATHER_TOOL, loose, results
from tests.unit.mistral_sim.nutrisense_roster import function_tool

# Every class a conversation stream may yield; an Unknown... here means the SDK could not parse.
EVENT_CLASSES = {
    "conversation.response.started": models.ResponseStartedEvent,
    "conversation.response.done": models.ResponseDoneEvent,
    "message.output.delta": models.MessageOutputEvent,
    "function.call.delta": models.FunctionCallEvent,
    "tool.execution.started": models.ToolExecutionStartedEvent,
    "tool.execution.delta": models.ToolExecutionDeltaEvent,
    "tool.execution.done": models.ToolExecutionDoneEvent,
    "agent.handoff.started": models.AgentHandoffStartedEvent,
    "agent.handoff.done": models.AgentHandoffDoneEvent,
}


def check_events(events: list[models.ConversationEvents]) -> list[str]:
    """Assert every event parsed into its class and the stream's frame; return the types."""
    types = [str(event.event) for event in events]
    for event in events:
        assert isinstance(event.data, EVENT_CLASSES[str(event.event)]), event
        assert event.data.type == event.event
    assert types[0] == "conversation.response.started"
    assert types[-1] == "conversation.response.done"
    assert "conversation.response.done" not in types[:-1]
    return types


def text_of(events: list[models.ConversationEvents]) -> str:
    return "".join(
        event.data.content
        for event in events
        if isinstance(event.data, models.MessageOutputEvent) and isinstance(event.data.content, str)
    )


@pytest.fixture
def weather_agent(client: Mistral) -> str:
    return client.beta.agents.create(
        model="mistral-medium-latest",
        name="weather",
        tools=[WEATHER_TOOL],
    ).id


@pytest.fixture
def plain_agent(client: Mistral) -> str:
    return client.beta.agents.create(model="mistral-small-latest", name="plain-helper").id


def test_function_call_round_trip(client: Mistral, weather_agent: str) -> None:
    started = client.beta.conversations.start(agent_id=weather_agent, inputs="weather in Paris?")
    assert isinstance(started, models.ConversationResponse)
    assert started.conversation_id.startswith("conv_")
    (call,) = started.outputs
    assert isinstance(call, models.FunctionCallEntry)
    assert call.name == "get_weather"
    assert call.agent_id == weather_agent
    assert json.loads(str(call.arguments)) == {"city": "Paris"}  # the words that fit `city`
    assert started.usage.total_tokens == (started.usage.prompt_tokens or 0) + (
        started.usage.completion_tokens or 0
    )

    answered = client.beta.conversations.append(
        conversation_id=started.conversation_id,
        inputs=results((call.tool_call_id, "sunny, 21C")),
    )
    assert answered.conversation_id == started.conversation_id
    (message,) = answered.outputs
    assert isinstance(message, models.MessageOutputEntry)
    assert "sunny, 21C" in str(message.content)

    history = client.beta.conversations.get_history(conversation_id=started.conversation_id)
    assert isinstance(history, models.ConversationHistory)
    assert [type(e) for e in history.entries] == [
        models.MessageInputEntry,
        models.FunctionCallEntry,
        models.FunctionResultEntry,
        models.MessageOutputEntry,
    ]
    messages = client.beta.conversations.get_messages(conversation_id=started.conversation_id)
    assert [type(m) for m in messages.messages] == [
        models.MessageInputEntry,
        models.MessageOutputEntry,
    ]


def test_plain_agent_and_reads(client: Mistral, plain_agent: str) -> None:
    started = client.beta.conversations.start(
        agent_id=plain_agent,
        inputs="What is 6+6? Reply with just the number.",
        metadata={"session": "s1"},
        name="maths",
    )
    (message,) = started.outputs
    assert isinstance(message, models.MessageOutputEntry)
    assert message.content == "12"
    assert message.id is not None
    assert message.id.startswith("msg_")

    again = client.beta.conversations.append(
        conversation_id=started.conversation_id,
        inputs=loose([{"role": "user", "content": "hello"}]),
    )
    assert "plain-helper" in str(again.outputs[0].content)  # type: ignore[union-attr]

    fetched = client.beta.conversations.get(conversation_id=started.conversation_id)
    assert isinstance(fetched, models.AgentConversation)
    assert fetched.agent_id == plain_agent
    assert fetched.metadata == {"session": "s1"}
    listed = client.beta.conversations.list(metadata={"session": "s1"})
    assert started.conversation_id in [c.id for c in listed]
    assert all(isinstance(c, models.AgentConversation) for c in listed)
    assert client.beta.conversations.list(page_size=1000)

    client.beta.conversations.delete(conversation_id=started.conversation_id)
    with pytest.raises(errors.SDKError) as caught:
        client.beta.conversations.get(conversation_id=started.conversation_id)
    assert caught.value.status_code == 404


def test_model_conversation(client: Mistral) -> None:
    started = client.beta.conversations.start(
        model="mistral-small-latest", inputs="Hello", instructions="be brief"
    )
    assert isinstance(started.outputs[0], models.MessageOutputEntry)
    assert started.outputs[0].model == "mistral-small-latest"
    fetched = client.beta.conversations.get(conversation_id=started.conversation_id)
    assert isinstance(fetched, models.ModelConversation)
    assert fetched.instructions == "be brief"


def test_restart_forks_a_new_conversation(client: Mistral, plain_agent: str) -> None:
    first = client.beta.conversations.start(agent_id=plain_agent, inputs="What is 2+2?")
    second = client.beta.conversations.append(
        conversation_id=first.conversation_id, inputs="What is 3+3?"
    )
    keep = first.outputs[0].id
    assert keep is not None
    restarted = client.beta.conversations.restart(
        conversation_id=first.conversation_id, from_entry_id=keep, inputs="What is 5+5?"
    )
    assert restarted.conversation_id != first.conversation_id
    assert "10" in str(restarted.outputs[0].content)  # type: ignore[union-attr]
    entries = client.beta.conversations.get_history(
        conversation_id=restarted.conversation_id
    ).entries
    assert [e.id for e in entries[:2]] == [
        client.beta.conversations.get_history(conversation_id=first.conversation_id).entries[0].id,
        keep,
    ]
    assert len(entries) == 4
    # The source conversation is untouched.
    source = client.beta.conversations.get_history(conversation_id=first.conversation_id)
    assert len(source.entries) == 4
    assert source.entries[-1].id == second.outputs[0].id


def test_streams_parse_into_sdk_classes(client: Mistral, weather_agent: str) -> None:
    events = list(client.beta.conversations.start_stream(agent_id=weather_agent, inputs="Lyon"))
    types = check_events(events)
    assert set(types[1:-1]) == {"function.call.delta"}
    started = events[0].data
    assert isinstance(started, models.ResponseStartedEvent)
    deltas = [e.data for e in events if isinstance(e.data, models.FunctionCallEvent)]
    assert len({(d.id, d.tool_call_id, d.name, d.output_index) for d in deltas}) == 1
    arguments = "".join(d.arguments for d in deltas)
    assert json.loads(arguments) == {"city": "Lyon"}
    done = events[-1].data
    assert isinstance(done, models.ResponseDoneEvent)
    assert done.usage.total_tokens

    answer = list(
        client.beta.conversations.append_stream(
            conversation_id=started.conversation_id,
            inputs=results((deltas[0].tool_call_id, "rain")),
        )
    )
    assert set(check_events(answer)[1:-1]) == {"message.output.delta"}
    assert "rain" in text_of(answer)

    history = client.beta.conversations.get_history(conversation_id=started.conversation_id)
    keep = history.entries[0].id
    assert keep is not None
    restarted = list(
        client.beta.conversations.restart_stream(
            conversation_id=started.conversation_id, from_entry_id=keep, inputs=[]
        )
    )
    check_events(restarted)
    new_id = restarted[0].data.conversation_id
    assert new_id != started.conversation_id


async def test_async_streams(aclient: Mistral, weather_agent: str, plain_agent: str) -> None:
    stream = await aclient.beta.conversations.start_stream_async(
        agent_id=plain_agent, inputs="What is 7*6?"
    )
    events = [event async for event in stream]
    check_events(events)
    assert "42" in text_of(events)
    conversation_id = events[0].data.conversation_id

    appended = await aclient.beta.conversations.append_stream_async(
        conversation_id=conversation_id, inputs="What is 1+1?"
    )
    more = [event async for event in appended]
    check_events(more)
    assert "2" in text_of(more)

    response = await aclient.beta.conversations.start_async(agent_id=weather_agent, inputs="Nice")
    call = response.outputs[0]
    assert isinstance(call, models.FunctionCallEntry)
    final = await aclient.beta.conversations.append_async(
        conversation_id=response.conversation_id,
        inputs=results((call.tool_call_id, "windy")),
    )
    assert "windy" in str(final.outputs[0].content)  # type: ignore[union-attr]
    restarted = await aclient.beta.conversations.restart_async(
        conversation_id=response.conversation_id,
        from_entry_id=str(final.outputs[0].id),
        inputs="Marseille",
    )
    assert isinstance(restarted.outputs[0], models.FunctionCallEntry)
    history = await aclient.beta.conversations.get_history_async(
        conversation_id=restarted.conversation_id
    )
    assert len(history.entries) == 6
    got = await aclient.beta.conversations.get_async(conversation_id=restarted.conversation_id)
    assert isinstance(got, models.AgentConversation)
    listed = await aclient.beta.conversations.list_async()
    assert restarted.conversation_id in [c.id for c in listed]
    msgs = await aclient.beta.conversations.get_messages_async(
        conversation_id=restarted.conversation_id
    )
    assert len(msgs.messages) == 3
    await aclient.beta.conversations.delete_async(conversation_id=restarted.conversation_id)


def test_conversation_pins_the_agent_version(client: Mistral) -> None:
    agent = client.beta.agents.create(model="mistral-medium-latest", name="pinned")
    client.beta.agents.update(agent_id=agent.id, tools=[WEATHER_TOOL])
    pinned = client.beta.conversations.start(agent_id=agent.id, agent_version=0, inputs="Paris")
    assert isinstance(pinned.outputs[0], models.MessageOutputEntry)
    later = client.beta.conversations.append(conversation_id=pinned.conversation_id, inputs="Nice")
    assert isinstance(later.outputs[0], models.MessageOutputEntry)
    fetched = client.beta.conversations.get(conversation_id=pinned.conversation_id)
    assert isinstance(fetched, models.AgentConversation)
    assert fetched.agent_version == 0
    latest = client.beta.conversations.start(agent_id=agent.id, inputs="Paris")
    assert isinstance(latest.outputs[0], models.FunctionCallEntry)


def test_client_handoff_execution_returns_the_handoff(
    client: Mistral, nutrisense: dict[str, str]
) -> None:
    response = client.beta.conversations.start(
        agent_id=nutrisense["router-agent"],
        inputs="What is the progress so far for the day?",
        handoff_execution="client",
    )
    (handoff,) = response.outputs
    assert isinstance(handoff, models.AgentHandoffEntry)
    assert handoff.next_agent_name == "daily-progress-agent"
    # The next append is answered by the agent handed to.
    follow = client.beta.conversations.append(
        conversation_id=response.conversation_id, inputs="and my totals?"
    )
    call = follow.outputs[0]
    assert isinstance(call, models.FunctionCallEntry)
    assert call.agent_id == nutrisense["daily-progress-agent"]


def test_parallel_function_calls(client: Mistral) -> None:
    agent = client.beta.agents.create(
        model="mistral-medium-latest",
        name="nutrition-agent",
        tools=loose(
            [
                function_tool("food_log", "Log the food the user ate."),
                function_tool("daily_progress", "Daily progress so far."),
            ]
        ),
    )
    events = list(
        client.beta.conversations.start_stream(
            agent_id=agent.id, inputs="Log 2 eggs and show my daily progress"
        )
    )
    check_events(events)
    calls: dict[str, tuple[int | None, str]] = {}
    for event in events:
        if isinstance(event.data, models.FunctionCallEvent):
            calls[event.data.tool_call_id] = (event.data.output_index, event.data.name)
    assert sorted(calls.values()) == [(0, "food_log"), (1, "daily_progress")]
    conversation_id = events[0].data.conversation_id
    first, second = calls
    with pytest.raises(errors.SDKError) as caught:
        client.beta.conversations.append(
            conversation_id=conversation_id, inputs=results((first, "logged"))
        )
    assert caught.value.raw_response.json()["code"] == 3001
    answer = client.beta.conversations.append(
        conversation_id=conversation_id,
        inputs=results((second, "60% of goals"), (first, "logged 2 eggs")),
    )
    text = str(answer.outputs[0].content)  # type: ignore[union-attr]
    assert "logged 2 eggs" in text
    assert "60% of goals" in text
