"""Teams as files, over HTTP/SSE: the second team (teams/time.yaml) runs the reference MCP server
`mcp-server-time` over stdio, and NutriSense's "set my goal" reaches goal-setting-agent from
whichever specialist answered last."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scripts.stack.processes import apoll
from tests.e2e.client import Api, Turn

pytestmark = pytest.mark.e2e


async def served_teams(api: Api) -> dict[str, dict[str, Any]]:
    """The teams once the workers have listed every server's tools."""
    teams: dict[str, dict[str, Any]] = {}

    async def listed() -> bool:
        response = await api.http.get("/v1/agents")
        assert response.status_code == 200, response.text
        teams.update({team["name"]: team for team in response.json()["data"]})
        return all(teams.get(name, {}).get("tools_listed") for name in ("nutrisense", "time"))

    assert await apoll(listed, 60), teams
    return teams


def the_call(turn: Turn) -> tuple[dict[str, Any], dict[str, Any]]:
    """The turn's one tool call and its result."""
    calls = [e.data for e in turn.events if e.event == "tool.call"]
    assert len(calls) == 1, turn.types
    (result,) = turn.tool_results()
    assert result["name"] == calls[0]["name"]
    return calls[0], result


async def test_the_time_team_answers_from_the_reference_server_over_stdio(api: Api) -> None:
    teams = await served_teams(api)
    clock = teams["time"]
    assert {tool["name"] for tool in clock["tools"]} == {"get_current_time", "convert_time"}

    sid = await api.create_session(agent="time", user_id=f"e2e-{uuid.uuid4().hex[:8]}")
    now = await api.stream_turn(sid, "What time is it in Tokyo?")
    assert now.types[-1] == "turn.completed", now.events[-1]
    call, result = the_call(now)
    assert call["name"] == "get_current_time"
    assert call["arguments"] == {"timezone": "Asia/Tokyo"}
    assert not result["is_error"], result
    answer = json.loads(result["output"])  # the server's own JSON, untouched
    assert answer["timezone"] == "Asia/Tokyo"
    assert answer["datetime"].endswith("+09:00")
    stamp = datetime.fromisoformat(answer["datetime"])
    assert abs((stamp - datetime.now(ZoneInfo("Asia/Tokyo"))).total_seconds()) < 120
    assert now.output

    converted = await api.stream_turn(sid, "Convert 14:30 from Europe/Paris to Asia/Tokyo")
    assert converted.types[-1] == "turn.completed", converted.events[-1]
    call, result = the_call(converted)
    assert call["name"] == "convert_time"
    assert call["arguments"] == {
        "source_timezone": "Europe/Paris",
        "time": "14:30",
        "target_timezone": "Asia/Tokyo",
    }
    target = json.loads(result["output"])["target"]
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    paris = datetime(today.year, today.month, today.day, 14, 30, tzinfo=ZoneInfo("Europe/Paris"))
    expected = paris.astimezone(ZoneInfo("Asia/Tokyo")).isoformat(timespec="seconds")
    assert target["datetime"] == expected

    session = await api.session(sid)
    assert session["agent"] == "time"
    assert [turn["status"] for turn in session["turns"]] == ["completed", "completed"]


async def test_a_team_no_worker_serves_is_a_422(api: Api) -> None:
    await served_teams(api)
    response = await api.http.post("/v1/sessions", json={"agent": "chess"})
    assert response.status_code == 422
    assert "known: nutrisense, time" in response.json()["detail"]


async def test_set_my_goal_mid_conversation_reaches_goal_setting(api: Api) -> None:
    sid = await api.create_session(user_id=f"e2e-{uuid.uuid4().hex[:8]}")
    logged = await api.stream_turn(sid, "I had 2 eggs for breakfast.")
    assert [r["name"] for r in logged.tool_results()] == ["food_log"]
    progress = await api.stream_turn(sid, "How am I doing so far today?")
    assert [r["name"] for r in progress.tool_results()] == ["daily_progress"]

    # The conversation sits with daily-progress-agent now; it must hand off to set goals.
    goals = await api.stream_turn(sid, "Set my protein goal to 120 g.")
    assert goals.types[-1] == "turn.completed", goals.events[-1]
    handoffs = [e.data["to_agent"] for e in goals.events if e.event == "agent.handoff"]
    assert handoffs[-1:] == ["goal-setting-agent"], handoffs
    (result,) = goals.tool_results()
    assert result["name"] == "goal_setting"
    assert not result["is_error"], result
    assert "protein 120 g" in result["output"]
