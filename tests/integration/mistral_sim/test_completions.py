"""`/v1/models`, `/v1/chat/completions` and `/v1/agents/completions` through the SDK."""

from __future__ import annotations

import json

from mistralai.client import Mistral, models

from tests.integration.mistral_sim.sdk import WEATHER_TOOL, loose, user


def test_models(client: Mistral) -> None:
    listed = client.models.list()
    assert isinstance(listed, models.ModelList)
    assert listed.data
    assert all(isinstance(card, models.BaseModelCard) for card in listed.data)
    card = client.models.retrieve(model_id="mistral-medium-latest")
    assert isinstance(card, models.BaseModelCard)
    assert card.capabilities.function_calling


def test_chat_complete_and_tool_round_trip(client: Mistral) -> None:
    plain = client.chat.complete(
        model="mistral-small-latest",
        messages=user("What is 6+6? Reply with just the number."),
    )
    assert isinstance(plain, models.ChatCompletionResponse)
    assert plain.choices[0].message is not None
    assert plain.choices[0].message.content == "12"
    assert plain.choices[0].finish_reason == "stop"

    asked = client.chat.complete(
        model="mistral-small-latest",
        messages=user("Paris"),
        tools=[WEATHER_TOOL],
    )
    choice = asked.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message is not None
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(str(call.function.arguments)) == {"city": "Paris"}

    answered = client.chat.complete(
        model="mistral-small-latest",
        messages=loose(
            [
                {"role": "user", "content": "Paris"},
                {"role": "assistant", "content": "", "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
            ]
        ),
    )
    assert answered.choices[0].message is not None
    assert "sunny" in str(answered.choices[0].message.content)


def test_chat_stream(client: Mistral) -> None:
    events = list(client.chat.stream(model="mistral-small-latest", messages=user("Hello")))
    assert all(isinstance(event, models.CompletionEvent) for event in events)
    text = "".join(str(e.data.choices[0].delta.content or "") for e in events)
    assert text.startswith("Hello!")
    assert events[-1].data.choices[0].finish_reason == "stop"
    assert events[-1].data.usage is not None

    calls = list(
        client.chat.stream(
            model="mistral-small-latest",
            messages=user("Lyon"),
            tools=[WEATHER_TOOL],
        )
    )
    last = calls[-1].data.choices[0]
    assert last.finish_reason == "tool_calls"
    assert (last.delta.tool_calls or [])[0].function.name == "get_weather"


async def test_async_chat_and_agents_completions(aclient: Mistral) -> None:
    response = await aclient.chat.complete_async(
        model="mistral-small-latest", messages=user("What is 2*21?")
    )
    assert response.choices[0].message is not None
    assert "42" in str(response.choices[0].message.content)

    agent = await aclient.beta.agents.create_async(
        model="mistral-medium-latest", name="weather", tools=[WEATHER_TOOL]
    )
    completed = await aclient.agents.complete_async(agent_id=agent.id, messages=user("Oslo"))
    assert completed.choices[0].finish_reason == "tool_calls"
    stream = await aclient.agents.stream_async(agent_id=agent.id, messages=user("Oslo"))
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].data.choices[0].finish_reason == "tool_calls"
