"""`response_format`: JSON that validates against the requested schema, filled from the input."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from services.mistral_sim import structured
from services.mistral_sim.failures import failure_reply, tool_error


def schema_format(schema: dict[str, Any], name: str = "answer") -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def rendered(schema: dict[str, Any], text: str, reply: str = "ok") -> Any:
    value = json.loads(structured.render(schema_format(schema), text, reply))
    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    return value


class Mood(StrEnum):
    happy = "happy"
    sad = "sad"
    neutral = "neutral"


class Address(BaseModel):
    city: str
    country: str | None = None


class Contact(BaseModel):
    name: str
    email: str = Field(json_schema_extra={"format": "email"})
    age: int = Field(ge=0, le=130)
    mood: Mood
    tags: list[str] = Field(min_length=1, max_length=3)
    address: Address
    website: str | None = None


def test_a_pydantic_schema_is_filled_from_the_message() -> None:
    text = "Add Grace Hopper, 85, grace@navy.mil, from Arlington; she is happy"
    value = rendered(Contact.model_json_schema(), text)
    contact = Contact.model_validate(value)
    assert contact.name == "Grace Hopper"
    assert contact.email == "grace@navy.mil"
    assert contact.age == 85
    assert contact.mood is Mood.happy
    assert contact.address.city == "Arlington"
    assert 1 <= len(contact.tags) <= 3


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {}, "additionalProperties": False},
        {"type": "array", "items": {"type": "integer"}, "minItems": 2},
        {"type": "string", "enum": ["a", "b"]},
        {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "day": {"type": "string", "format": "date"},
                "site": {"type": "string", "format": "uri"},
                "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "count": {"type": "integer", "multipleOf": 5, "minimum": 7},
                "code": {"type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"},
                "flag": {"const": "yes"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"n": {"type": "integer"}},
                        "required": ["n"],
                    },
                    "minItems": 1,
                },
            },
            "required": ["when", "day", "site", "score", "count", "code", "flag", "items"],
        },
    ],
)
def test_every_schema_shape_validates(schema: dict[str, Any]) -> None:
    rendered(schema, "nothing specific here")


def test_answer_like_fields_carry_what_the_model_would_say() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
        "required": ["answer", "confidence"],
    }
    value = rendered(schema, "What is 6+6?", reply="12")
    assert value["answer"] == "12"


def test_json_object_follows_the_keys_the_prompt_shows() -> None:
    fmt = {"type": "json_object"}
    shown = structured.render(
        fmt, "Extract: Ada Lovelace, born 1815", "ok", ['Reply as {"name": "...", "year": 0}']
    )
    assert json.loads(shown) == {"name": "Ada Lovelace", "year": 1815}
    listed = structured.render(fmt, "Tokyo weather. Use keys city and summary", "Sunny.")
    assert json.loads(listed) == {"city": "Tokyo", "summary": "Sunny."}
    plain = structured.render(fmt, "Tell me a joke", "Why did the chicken...")
    assert json.loads(plain) == {"answer": "Why did the chicken..."}


def test_response_format_comes_from_the_first_source_that_asks_for_json() -> None:
    asked = {"type": "json_object"}
    assert structured.response_format(None, {"response_format": {"type": "text"}}) is None
    assert structured.response_format({}, {"response_format": asked}) == asked
    assert structured.response_format(asked) == asked


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ("calories goal 2e+06 is outside the plausible range 500-10000", "outside the plausible"),
        (json.dumps([{"type": "text", "text": "no goal found: name a nutrient"}]), "no goal found"),
        (
            json.dumps({"content": [{"type": "text", "text": "bad zone"}], "isError": True}),
            "bad zone",
        ),
        (json.dumps({"error": {"message": "rate limited"}}), "rate limited"),
        (json.dumps({"status": "error", "message": "disk full"}), "disk full"),
        ("Error executing tool convert_time: Invalid timezone", "Invalid timezone"),
        ("The user did not approve running food_log: not now", "did not approve"),
    ],
)
def test_tool_errors_are_recognised(result: str, reason: str) -> None:
    found = tool_error(result)
    assert found is not None
    assert reason in found


@pytest.mark.parametrize(
    "result",
    [
        "Updated calories (from 2026-12-02). Daily goals now: calories 2000 kcal.",
        "Logged 1 item(s) for 2026-12-02:\nNot logged, not in the nutrition table: x.",
        json.dumps({"timezone": "Asia/Tokyo", "datetime": "2026-12-02T23:00:00+09:00"}),
        json.dumps({"error": None, "value": 3}),
        "Progress for 2026-12-02 (0 item(s) logged):\nNo goals set yet: ask the user.",
    ],
)
def test_successes_are_not_errors(result: str) -> None:
    assert tool_error(result) is None


def test_a_failure_reply_says_what_failed_and_why() -> None:
    reply = failure_reply("goal_setting", "calories goal 20000 kcal is outside the range.")
    assert reply.startswith("I could not set your goals: calories goal 20000 kcal is outside")
    assert "goals are set" not in reply
    assert failure_reply("convert_time", "bad zone").startswith("The convert_time tool failed")


class Node(BaseModel):
    text: str
    children: list[Node]


def test_a_recursive_schema_ends() -> None:
    value = rendered(Node.model_json_schema(), "a tree", reply="root")
    assert Node.model_validate(value).text == "root"


def test_json_object_has_the_things_the_message_asks_to_return() -> None:
    text = "What is the best French meal? Return the name and the ingredients in short JSON object."
    value = json.loads(structured.render({"type": "json_object"}, text, "ok"))
    assert set(value) == {"name", "ingredients"}
    assert isinstance(value["name"], str)
    assert isinstance(value["ingredients"], list)
