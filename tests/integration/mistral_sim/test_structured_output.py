"""Structured output and filled tool arguments through the unchanged SDK: `chat.parse`,
`response_format` on chat, agents and conversations, `RunContext(output_format=...)`, and a
tool error answered as a failure."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from mistralai.client import Mistral, models
from mistralai.extra.run.context import RunContext
from pydantic import BaseModel, Field

from tests.integration.mistral_sim.sdk import loose, results, user


class City(BaseModel):
    name: str
    country: str | None = None
    population: int = Field(ge=0)
    landmarks: list[str]


class Weather(BaseModel):
    city: str
    temperature_c: float
    summary: str


SCHEMA_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "weather", "schema": Weather.model_json_schema(), "strict": True},
}


def test_chat_parse_returns_the_pydantic_model(client: Mistral) -> None:
    parsed = client.chat.parse(
        response_format=City,
        model="mistral-small-latest",
        messages=user("Tell me about Lyon: 522000 people, known for Fourviere."),
    )
    (choice,) = parsed.choices or []
    assert choice.message is not None
    city = choice.message.parsed
    assert isinstance(city, City)
    assert city.name == "Lyon"
    assert city.population == 522000


async def test_chat_parse_async_and_stream(aclient: Mistral) -> None:
    parsed = await aclient.chat.parse_async(
        response_format=Weather, model="mistral-small-latest", messages=user("Weather in Oslo?")
    )
    assert parsed.choices
    assert parsed.choices[0].message is not None
    assert isinstance(parsed.choices[0].message.parsed, Weather)
    stream = await aclient.chat.parse_stream_async(
        response_format=Weather, model="mistral-small-latest", messages=user("Weather in Rome?")
    )
    text = "".join([str(e.data.choices[0].delta.content or "") async for e in stream])
    assert Weather.model_validate_json(text).city == "Rome"


def test_chat_json_object(client: Mistral) -> None:
    answer = client.chat.complete(
        model="mistral-small-latest",
        messages=loose(
            [
                {"role": "system", "content": 'Answer in JSON: {"city": "", "country": ""}'},
                {"role": "user", "content": "Where is the Eiffel Tower? In Paris, France."},
            ]
        ),
        response_format={"type": "json_object"},
    )
    assert answer.choices[0].message is not None
    assert json.loads(str(answer.choices[0].message.content)) == {
        "city": "Paris",
        "country": "France",
    }


def test_agent_completion_args_shape_conversations_and_completions(client: Mistral) -> None:
    agent = client.beta.agents.create(
        model="mistral-medium-latest",
        name="weather-reporter",
        completion_args=loose({"response_format": SCHEMA_FORMAT}),
    )
    started = client.beta.conversations.start(agent_id=agent.id, inputs="Weather in Madrid?")
    (output,) = started.outputs
    assert isinstance(output, models.MessageOutputEntry)
    assert Weather.model_validate_json(str(output.content)).city == "Madrid"
    completed = client.agents.complete(agent_id=agent.id, messages=user("Weather in Porto?"))
    assert completed.choices[0].message is not None
    assert Weather.model_validate_json(str(completed.choices[0].message.content)).city == "Porto"


def test_model_conversation_and_append_completion_args(client: Mistral) -> None:
    started = client.beta.conversations.start(
        model="mistral-small-latest",
        inputs="Weather in Vienna?",
        completion_args=loose({"response_format": SCHEMA_FORMAT}),
    )
    assert Weather.model_validate_json(str(started.outputs[-1].content)).city == "Vienna"  # type: ignore[union-attr]
    plain = client.beta.conversations.start(model="mistral-small-latest", inputs="Hello")
    appended = client.beta.conversations.append(
        conversation_id=plain.conversation_id,
        inputs="and in Prague?",
        completion_args=loose({"response_format": {"type": "json_object"}}),
    )
    assert isinstance(json.loads(str(appended.outputs[-1].content)), dict)  # type: ignore[union-attr]


async def test_run_context_output_format(aclient: Mistral) -> None:
    async with RunContext(model="mistral-small-latest", output_format=loose(Weather)) as ctx:
        result = await aclient.beta.conversations.run_async(
            run_ctx=ctx, inputs="Weather in Helsinki?"
        )
    weather = result.output_as_model
    assert isinstance(weather, Weather)
    assert weather.city == "Helsinki"


def test_tool_arguments_come_from_the_schema_and_errors_are_said(client: Mistral) -> None:
    tool: Any = {
        "type": "function",
        "function": {
            "name": "convert_time",
            "description": "Convert time between timezones",
            "parameters": {
                "type": "object",
                "properties": {
                    "source_timezone": {"type": "string", "description": "Source IANA timezone"},
                    "time": {"type": "string", "description": "Time in 24-hour format (HH:MM)"},
                    "target_timezone": {"type": "string", "description": "Target IANA timezone"},
                },
                "required": ["source_timezone", "time", "target_timezone"],
            },
        },
    }
    agent = client.beta.agents.create(model="mistral-medium-latest", name="clock", tools=[tool])
    started = client.beta.conversations.start(
        agent_id=agent.id, inputs="Convert 9:30am from London to Tokyo"
    )
    (call,) = started.outputs
    assert isinstance(call, models.FunctionCallEntry)
    arguments = json.loads(str(call.arguments))
    jsonschema.validate(arguments, tool["function"]["parameters"])
    assert arguments == {
        "source_timezone": "Europe/London",
        "time": "09:30",
        "target_timezone": "Asia/Tokyo",
    }
    failed = json.dumps([{"type": "text", "text": "Error: Invalid timezone: Europe/London"}])
    answered = client.beta.conversations.append(
        conversation_id=started.conversation_id, inputs=results((call.tool_call_id, failed))
    )
    text = str(answered.outputs[-1].content)  # type: ignore[union-attr]
    assert text.startswith("The convert_time tool failed: Error: Invalid timezone")


async def test_streamed_conversation_deltas_join_to_valid_json(aclient: Mistral) -> None:
    stream = await aclient.beta.conversations.start_stream_async(
        model="mistral-small-latest",
        inputs="Weather in Nice?",
        completion_args=loose({"response_format": SCHEMA_FORMAT}),
    )
    events = [event async for event in stream]
    deltas = [e.data for e in events if isinstance(e.data, models.MessageOutputEvent)]
    assert len(deltas) > 1
    text = "".join(str(delta.content) for delta in deltas)
    assert Weather.model_validate_json(text).city == "Nice"
