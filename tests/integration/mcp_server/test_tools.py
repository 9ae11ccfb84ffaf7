"""The four tools through the official MCP client over HTTP, on the cookbook's sample queries and
harder ones; every number is checked by arithmetic against the shipped nutrition table."""

from __future__ import annotations

from typing import Any

import pytest

from services.mcp_server.nutrition import load_food_table
from tests.fixtures.mcp_server import McpServerProcess
from tests.integration.mcp_server.mcp_client import User, call, data_of, mcp_session, text_of

NUTRIENTS = ("calories_kcal", "protein_g", "carbs_g", "fat_g", "fibre_g")
COOKBOOK_GOALS = "Set my calorie goal to 2000 calories, 100g protein, 100g carbs, 100g fibre."
COOKBOOK_LOG = "Log the food for breakfast - I had 2 eggs, 1 slice of bread, and 1 cup of coffee."


def expected_item(food: str, grams: float) -> dict[str, float]:
    """Nutrients of `grams` of a table food: per-100 g values scaled, one decimal."""
    per_100g = load_food_table().lookup(food)
    assert per_100g is not None
    return {n: round(getattr(per_100g.per_100g, n) * grams / 100, 1) for n in NUTRIENTS}


def summed(items: list[dict[str, Any]]) -> dict[str, float]:
    return {n: round(sum(item["nutrients"][n] for item in items), 1) for n in NUTRIENTS}


async def test_cookbook_session_goals_log_recommend_progress(mcp_server: McpServerProcess) -> None:
    user = User.fresh()
    async with mcp_session(mcp_server.url) as session:
        goals = await call(session, "goal_setting", COOKBOOK_GOALS, user)
        logged = await call(session, "food_log", COOKBOOK_LOG, user)
        advice = await call(
            session,
            "food_recommendations",
            "Provide recommendations for dinner based on the goals.",
            user,
        )
        progress = await call(
            session,
            "daily_progress",
            "What is the progress so far for the day?. Provide Nutrition analysis.",
            user,
        )

    assert data_of(goals)["goals"] == {
        "calories_kcal": 2000,
        "protein_g": 100,
        "carbs_g": 100,
        "fat_g": None,
        "fibre_g": 100,
    }
    assert "2000 kcal" in text_of(goals)

    log = data_of(logged)
    assert [(i["food"], i["quantity"], i["unit"], i["meal"]) for i in log["items"]] == [
        ("egg", 2, "piece", "breakfast"),
        ("white bread", 1, "slice", "breakfast"),
        ("coffee", 1, "cup", "breakfast"),
    ]
    assert [i["grams"] for i in log["items"]] == [100, 29, 240]  # 2 x 50 g, a slice, a cup
    for item in log["items"]:
        assert item["nutrients"] == expected_item(item["food"], item["grams"])
    assert log["logged_totals"] == summed(log["items"]) == log["day_totals"]
    assert log["unknown"] == []

    plan = data_of(advice)
    assert plan["meal"] == "dinner"
    assert plan["goals_source"] == "user"
    assert plan["remaining"]["calories_kcal"] == round(2000 - log["day_totals"]["calories_kcal"], 1)
    assert plan["meal_plan"], text_of(advice)
    assert plan["meal_plan_totals"] == summed(plan["meal_plan"])
    assert plan["meal_plan_totals"]["calories_kcal"] <= plan["meal_budget"]["calories_kcal"] * 1.1
    assert len({item["food"] for item in plan["meal_plan"] + plan["alternatives"]}) == len(
        plan["meal_plan"] + plan["alternatives"]
    )

    report = data_of(progress)
    totals = report["totals"]
    assert totals == log["day_totals"]
    assert report["percent_of_goal"] == {
        "calories_kcal": round(100 * totals["calories_kcal"] / 2000, 1),
        "protein_g": round(100 * totals["protein_g"] / 100, 1),
        "carbs_g": round(100 * totals["carbs_g"] / 100, 1),
        "fat_g": None,
        "fibre_g": round(100 * totals["fibre_g"] / 100, 1),
    }
    assert report["remaining"]["protein_g"] == round(100 - totals["protein_g"], 1)
    assert report["by_meal"] == {"breakfast": totals}
    assert f"{totals['calories_kcal']:g} kcal" in text_of(progress)


async def test_several_items_with_units_in_one_call(mcp_server: McpServerProcess) -> None:
    user = User.fresh()
    async with mcp_session(mcp_server.url) as session:
        first = await call(
            session,
            "food_log",
            "2 eggs, 1 slice of whole wheat bread and a cup of black coffee",
            user,
        )
        second = await call(
            session, "food_log", "half a cup of rice and 150g grilled chicken for lunch", user
        )

    breakfast = data_of(first)
    assert [(i["food"], i["quantity"], i["unit"], i["grams"]) for i in breakfast["items"]] == [
        ("egg", 2, "piece", 100),
        ("whole wheat bread", 1, "slice", 32),
        ("coffee", 1, "cup", 240),
    ]
    assert all(item["meal"] is None for item in breakfast["items"])

    lunch = data_of(second)
    assert [
        (i["food"], i["quantity"], i["unit"], i["grams"], i["meal"]) for i in lunch["items"]
    ] == [
        ("white rice", 0.5, "cup", 79, "lunch"),  # a cup of cooked rice is 158 g
        ("chicken breast", 150, "g", 150, "lunch"),
    ]
    assert lunch["items"][1]["nutrients"] == expected_item("chicken breast", 150)
    assert lunch["items"][1]["nutrients"]["protein_g"] == 46.5  # 31 g per 100 g
    assert lunch["day_totals"] == summed(breakfast["items"] + lunch["items"])


async def test_unknown_foods_are_reported_not_invented(mcp_server: McpServerProcess) -> None:
    user = User.fresh()
    async with mcp_session(mcp_server.url) as session:
        partly = await call(session, "food_log", "1 banana and 3 zorblax fritters", user)
        nothing = await call(session, "food_log", "some qwertyuiop", user)
        progress = await call(session, "daily_progress", "how am I doing", user)

    data = data_of(partly)
    assert [item["food"] for item in data["items"]] == ["banana"]
    assert data["unknown"] == ["3 zorblax fritters"]
    assert "zorblax" in text_of(partly)
    assert nothing.is_error
    assert "nothing was logged" in text_of(nothing)
    assert len(data_of(progress)["entries"]) == 1


@pytest.mark.parametrize(
    ("tool", "query", "message"),
    [
        ("goal_setting", "make me healthier", "no goal found"),
        ("goal_setting", "protein 9000 g", "plausible"),
        ("food_log", "1 slice of milk", "no weight is known"),
        ("food_log", "1 egg, " * 400, "too long"),
        ("food_log", "1 egg, " * 41, "at most 40 foods"),
    ],
)
async def test_bad_requests_are_error_results(
    mcp_server: McpServerProcess, tool: str, query: str, message: str
) -> None:
    async with mcp_session(mcp_server.url) as session:
        result = await call(session, tool, query, User.fresh())
    assert result.is_error
    assert message in text_of(result)


async def test_partial_goal_update_keeps_the_other_goals(mcp_server: McpServerProcess) -> None:
    user = User.fresh()
    async with mcp_session(mcp_server.url) as session:
        await call(session, "goal_setting", COOKBOOK_GOALS, user)
        updated = await call(session, "goal_setting", "raise my protein to 140 g and fat: 70", user)
    data = data_of(updated)
    assert data["updated"] == ["protein_g", "fat_g"]
    assert data["goals"] == {
        "calories_kcal": 2000,
        "protein_g": 140,
        "carbs_g": 100,
        "fat_g": 70,
        "fibre_g": 100,
    }


async def test_recommendations_without_goals_use_reference_values(
    mcp_server: McpServerProcess,
) -> None:
    async with mcp_session(mcp_server.url) as session:
        result = await call(
            session, "food_recommendations", "what should I have for breakfast", User.fresh()
        )
    data = data_of(result)
    assert (data["meal"], data["goals_source"]) == ("breakfast", "default")
    assert data["meal_budget"]["calories_kcal"] == 500  # a quarter of the 2000 kcal reference
    assert data["meal_plan"]


async def test_a_retried_food_log_with_the_same_key_logs_once(mcp_server: McpServerProcess) -> None:
    """The worker passes the model's tool-call id: a retried activity must not log twice."""
    user = User.fresh()
    meta = user.meta(idempotency_key="call_7f3a")
    query = {"user_query": "2 eggs and a cup of black coffee"}
    async with mcp_session(mcp_server.url) as session:
        first = data_of(await session.call_tool("food_log", query, meta=meta))
        retry = data_of(await session.call_tool("food_log", query, meta=meta))
        other = data_of(await call(session, "food_log", "2 eggs", user))
    assert retry == first
    assert len(first["items"]) == 2
    assert other["day_totals"]["calories_kcal"] == round(
        first["day_totals"]["calories_kcal"] + 143, 1
    )


async def test_kcal_goals_and_percent_macros_of_the_current_calorie_goal(
    mcp_server: McpServerProcess,
) -> None:
    user = User.fresh()
    async with mcp_session(mcp_server.url) as session:
        kcal = await call(session, "goal_setting", "Set my calorie goal to 2000 kcal", user)
        share = await call(session, "goal_setting", "30% protein and 1,800kcal", user)
        later = await call(session, "goal_setting", "fat 25%", user)
    assert not kcal.is_error, text_of(kcal)
    assert data_of(kcal)["goals"]["calories_kcal"] == 2000
    assert data_of(share)["goals"]["calories_kcal"] == 1800
    assert data_of(share)["goals"]["protein_g"] == 135  # 30 % of 1800 kcal at 4 kcal/g
    assert data_of(later)["goals"]["fat_g"] == 50  # 25 % of the stored 1800 kcal at 9 kcal/g
