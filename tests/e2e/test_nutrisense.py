"""The cookbook's NutriSense conversation over HTTP/SSE, numbers checked by arithmetic."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.client import Api

pytestmark = pytest.mark.e2e


def calories(text: str, pattern: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return float(match.group(1))


async def test_five_turn_conversation_with_correct_numbers(api: Api) -> None:
    sid = await api.create_session(user_id=f"e2e-{uuid.uuid4().hex[:8]}")

    goals = await api.stream_turn(
        sid, "Set my calorie goal to 2000 calories, 100g protein, 100g carbs, 100g fibre."
    )
    assert goals.types[0] in ("turn.queued", "turn.started")
    assert goals.types[-1] == "turn.completed", goals.events[-1]
    assert "2000" in goals.output

    logged = await api.stream_turn(
        sid, "Log the food for breakfast - I had 2 eggs, 1 slice of bread and 1 cup of coffee."
    )
    assert logged.types[-1] == "turn.completed", logged.events[-1]
    (log_result,) = logged.tool_results()
    assert log_result["name"] == "food_log"
    assert "Logged 3 item(s)" in log_result["output"]
    eaten = calories(log_result["output"], r"This log: ([\d.]+) kcal")
    assert 150 < eaten < 600  # two eggs, a slice of bread, black coffee

    dinner = await api.stream_turn(sid, "Provide recommendations for dinner based on the goals.")
    assert dinner.types[-1] == "turn.completed"
    assert [r["name"] for r in dinner.tool_results()] == ["food_recommendations"]

    progress = await api.stream_turn(
        sid, "What is the progress so far for the day?. Provide Nutrition analysis."
    )
    (progress_result,) = progress.tool_results()
    assert progress_result["name"] == "daily_progress"
    total = calories(progress_result["output"], r"Eaten: ([\d.]+) kcal")
    assert total == pytest.approx(eaten)
    reached = calories(progress_result["output"], r"Reached: calories ([\d.]+)%")
    assert reached == pytest.approx(round(total / 2000 * 100, 1), abs=0.05)
    remaining = calories(progress_result["output"], r"Remaining: calories ([\d.]+) kcal")
    assert remaining == pytest.approx(2000 - total, abs=0.5)

    web = await api.stream_turn(
        sid, "Search the web for restaurants in paris that serve good grilled chicken."
    )
    assert web.types[-1] == "turn.completed"
    assert "web_search" in [e.data["name"] for e in web.events if e.event == "tool.call"]

    session = await api.session(sid)
    assert [t["status"] for t in session["turns"]] == ["completed"] * 5
    for turn in (goals, logged, dinner, progress, web):
        streamed = "".join(e.data["text"] for e in turn.events if e.event == "message.delta")
        assert streamed == turn.output
