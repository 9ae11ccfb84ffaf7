"""Function arguments filled from the tool's JSON schema and the words of the user's message."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonschema
import pytest

from services.mistral_sim.arguments import arguments_for
from services.mistral_sim.hints import hint_of

TODAY = dt.date(2026, 12, 2)  # a Wednesday


def tool(name: str, properties: dict[str, Any], required: list[str], description: str = "") -> Any:
    parameters = {"type": "object", "properties": properties, "required": required}
    return {"name": name, "description": description, "parameters": parameters}


def call(function: dict[str, Any], text: str) -> dict[str, Any]:
    args = arguments_for(function, text, TODAY)
    jsonschema.validate(args, function["parameters"])
    return args


ZONE = "IANA timezone name (e.g., 'America/New_York', 'Europe/London'). Use 'Europe/Paris' as "
ZONE += "local timezone if no timezone provided by the user."
# mcp-server-time's tools, as it lists them.
GET_TIME = tool(
    "get_current_time", {"timezone": {"type": "string", "description": ZONE}}, ["timezone"]
)
CONVERT_TIME = tool(
    "convert_time",
    {
        "source_timezone": {"type": "string", "description": "Source " + ZONE},
        "time": {"type": "string", "description": "Time to convert in 24-hour format (HH:MM)"},
        "target_timezone": {"type": "string", "description": "Target " + ZONE},
    },
    ["source_timezone", "time", "target_timezone"],
)
WEATHER = tool(
    "get_weather",
    {
        "city": {"type": "string", "description": "the city"},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
        "include_hourly": {"type": "boolean"},
        "date": {"type": "string", "format": "date"},
    },
    ["city"],
)


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("What time is it in Tokyo?", "Asia/Tokyo"),
        ("time in new york please", "America/New_York"),
        ("What's the time in Europe/Berlin", "Europe/Berlin"),
        ("current time in São Paulo", "America/Sao_Paulo"),
        ("what time is it in Japan", "Asia/Tokyo"),
        ("what time is it?", "Europe/Paris"),  # the default the description names
    ],
)
def test_zone_names_become_iana_zones(text: str, zone: str) -> None:
    assert call(GET_TIME, text) == {"timezone": zone}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Convert 9:30pm from London to Tokyo",
            ("Europe/London", "21:30", "Asia/Tokyo"),
        ),
        (
            "If it's 14:00 in Paris, what time is it in New York?",
            ("Europe/Paris", "14:00", "America/New_York"),
        ),
        (
            "what is 9am in Sydney time, from Chicago",
            ("America/Chicago", "09:00", "Australia/Sydney"),
        ),
        ("convert noon to Los Angeles time", ("Europe/Paris", "12:00", "America/Los_Angeles")),
    ],
)
def test_two_zones_and_a_time(text: str, expected: tuple[str, str, str]) -> None:
    args = call(CONVERT_TIME, text)
    assert (args["source_timezone"], args["time"], args["target_timezone"]) == expected


def test_only_what_the_message_gives_fills_optional_parameters() -> None:
    assert call(WEATHER, "weather in Paris") == {"city": "Paris"}
    assert call(WEATHER, "Paris") == {"city": "Paris"}
    assert call(WEATHER, "weather in Lyon for 3 days, imperial units, hourly too, tomorrow") == {
        "city": "Lyon",
        "days": 3,
        "units": "imperial",
        "include_hourly": True,
        "date": "2026-12-03",
    }


def test_numbers_respect_the_bounds_and_the_type() -> None:
    assert call(WEATHER, "weather in Oslo for 30 days")["days"] == 14
    assert call(WEATHER, "Oslo forecast for 2.6 days")["days"] == 3


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("temperature in Rome in fahrenheit", "fahrenheit"),
        ("temperature in Rome in °C", "celsius"),
        ("temperature in Rome, kelvin please", "kelvin"),
    ],
)
def test_the_enum_value_the_message_names(text: str, unit: str) -> None:
    function = tool(
        "get_temperature",
        {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit", "kelvin"]},
        },
        ["city", "unit"],
    )
    assert call(function, text) == {"city": "Rome", "unit": unit}


def test_a_required_enum_the_message_does_not_name_takes_the_default() -> None:
    function = tool(
        "search",
        {"query": {"type": "string"}, "sort": {"enum": ["relevance", "date"], "default": "date"}},
        ["query", "sort"],
    )
    assert call(function, "recipes with leeks") == {"query": "recipes with leeks", "sort": "date"}
    assert call(function, "recipes with leeks sorted by relevance")["sort"] == "relevance"


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("book it for today", "2026-12-02"),
        ("book it for tomorrow", "2026-12-03"),
        ("book it for yesterday", "2026-12-01"),
        ("book it on 2027-01-15", "2027-01-15"),
        ("book it on Friday", "2026-12-04"),
        ("book it on 24 December", "2026-12-24"),
        ("book it in 10 days", "2026-12-12"),
    ],
)
def test_dates_from_the_message(text: str, day: str) -> None:
    function = tool("book", {"day": {"type": "string", "format": "date"}}, ["day"])
    assert call(function, text) == {"day": day}


def test_the_user_query_contract_gets_the_whole_message() -> None:
    function = tool("goal_setting", {"user_query": {"type": "string"}}, ["user_query"])
    text = "Set my calorie goal to 2000 kcal"
    assert call(function, text) == {"user_query": text}


def test_each_string_gets_the_words_that_fit_it() -> None:
    function = tool(
        "create_event",
        {
            "title": {"type": "string"},
            "start": {"type": "string", "format": "date-time"},
            "attendees": {"type": "array", "items": {"type": "string", "format": "email"}},
            "priority": {"type": "string", "enum": ["low", "normal", "high"]},
            "location": {"type": "string"},
            "notes": {"type": "string"},
        },
        ["title", "start"],
    )
    text = "Schedule 'Budget review' tomorrow at 3pm in Berlin with bob@x.com and amy@y.org, high"
    assert call(function, text) == {
        "title": "Budget review",
        "start": "2026-12-03T15:00:00Z",
        "attendees": ["bob@x.com", "amy@y.org"],
        "priority": "high",
        "location": "Berlin",
    }


def test_paths_names_and_a_sole_number() -> None:
    git_log = tool(
        "git_log",
        {"repo_path": {"type": "string"}, "max_count": {"type": "integer", "default": 10}},
        ["repo_path"],
    )
    assert call(git_log, "show the last 5 commits of /work/repo") == {
        "repo_path": "/work/repo",
        "max_count": 5,
    }
    assert call(git_log, "what changed in /srv/app?") == {"repo_path": "/srv/app"}
    greet = tool("greet", {"first_name": {"type": "string"}, "last_name": {"type": "string"}}, [])
    assert call(greet, "say hello to Ada Lovelace") == {
        "first_name": "Ada",
        "last_name": "Lovelace",
    }


def test_a_required_string_the_message_says_nothing_specific_for() -> None:
    function = tool("search_recipes", {"ingredients": {"type": "string"}}, ["ingredients"])
    assert call(function, "Please search recipes with chickpeas and spinach.") == {
        "ingredients": "chickpeas and spinach"
    }


def test_nested_objects_refs_and_nullable_fields() -> None:
    parameters = {
        "type": "object",
        "$defs": {
            "Where": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "country": {"type": ["string", "null"]}},
                "required": ["city", "country"],
            }
        },
        "properties": {
            "place": {"$ref": "#/$defs/Where"},
            "radius_km": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            "open_now": {"type": "boolean"},
        },
        "required": ["place", "radius_km"],
    }
    function = {"name": "find_restaurants", "parameters": parameters}
    assert call(function, "restaurants in Madrid within 3 km") == {
        "place": {"city": "Madrid", "country": None},
        "radius_km": 3,
    }
    assert call(function, "restaurants in Madrid that are open now, not too far") == {
        "place": {"city": "Madrid", "country": None},
        "radius_km": None,
        "open_now": True,
    }


def test_patterns_and_lengths_hold() -> None:
    function = tool(
        "lookup",
        {
            "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "note": {"type": "string", "minLength": 5, "maxLength": 8},
        },
        ["code", "note"],
    )
    call(function, "look up the airport")


def test_no_parameters_no_arguments() -> None:
    assert arguments_for({"name": "ping", "parameters": {"type": "object"}}, "ping it") == {}
    assert arguments_for({"name": "ping", "parameters": {}}, "ping it") == {}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("user_query", "query"),
        ("user_id", "id"),
        ("repo_path", "path"),
        ("file_name", "path"),
        ("city_name", "place"),
        ("email_address", "email"),
        ("home_address", "place"),
        ("first_name", "person"),
        ("sourceTimezone", "zone"),
        ("websiteUrl", "url"),
        ("max_results", "text"),
    ],
)
def test_what_a_parameter_is_about_comes_from_the_head_of_its_name(name: str, kind: str) -> None:
    assert hint_of(name, {}).kind == kind


def test_a_description_names_the_kind_of_a_vague_parameter() -> None:
    assert hint_of("value", {"description": "IANA time zone, e.g. Europe/Paris"}).kind == "zone"
    assert hint_of("where", {}).kind == "place"
    assert hint_of("arg", {"description": "the text to show, with a name and time"}).kind == "text"
