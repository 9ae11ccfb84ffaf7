"""Totals, remaining amounts, percentages and meal budgets: plain arithmetic, checked by hand."""

from __future__ import annotations

import pytest

from services.mcp_server.nutrients import Goals, Nutrients, percent_of_goals, remaining
from services.mcp_server.nutrition import load_food_table
from services.mcp_server.recommendations import meal_budget, meal_share, portion_for, recommend_meal


def test_totals_are_sums_of_rounded_items() -> None:
    items = [Nutrients(143, 12.6, 0.7, 9.5, 0), Nutrients(80.6, 4, 13.7, 1.1, 1.9)]
    assert Nutrients.total(items) == Nutrients(223.6, 16.6, 14.4, 10.6, 1.9)
    assert Nutrients.total([]) == Nutrients()


def test_remaining_and_percent_only_for_set_goals() -> None:
    goals = Goals(calories_kcal=2000, protein_g=100, fibre_g=25)
    eaten = Nutrients(500, 120, 60, 20, 5)
    assert remaining(goals, eaten) == {
        "calories_kcal": 1500,
        "protein_g": -20,  # over the goal
        "carbs_g": None,
        "fat_g": None,
        "fibre_g": 20,
    }
    assert percent_of_goals(goals, eaten) == {
        "calories_kcal": 25,
        "protein_g": 120,
        "carbs_g": None,
        "fat_g": None,
        "fibre_g": 20,
    }


def test_meal_shares_split_what_is_left() -> None:
    assert meal_share("breakfast") == pytest.approx(0.25)
    assert meal_share("lunch") == pytest.approx(0.35 / 0.75)
    assert meal_share("snack") == pytest.approx(0.25)
    assert meal_share("dinner") == 1


def test_meal_budget_is_a_share_of_what_is_left_capped() -> None:
    goals = Goals(calories_kcal=2000, protein_g=100, carbs_g=250, fat_g=70, fibre_g=30)
    eaten = Nutrients(1600, 60, 200, 60, 10)
    # Dinner gets all that is left, but no more than 1.5 x 30 % of a goal (fibre: 13.5 of 20).
    assert meal_budget(goals, eaten, "dinner") == Nutrients(400, 40, 50, 10, 13.5)
    # Nothing eaten yet: dinner is capped at 1.5 x its 30 % share of the day.
    assert meal_budget(goals, Nutrients(), "dinner").calories_kcal == 900
    # Over the goal: the budget is zero, never negative.
    assert meal_budget(goals, Nutrients(2500, 0, 0, 0, 0), "snack").calories_kcal == 0


def test_a_meal_plan_fits_its_budget_and_is_deterministic() -> None:
    table = load_food_table()
    goals = Goals(calories_kcal=2000, protein_g=120)
    eaten = Nutrients(900, 50, 100, 30, 10)
    first = recommend_meal(table, goals, eaten, "dinner")
    again = recommend_meal(table, goals, eaten, "dinner")
    assert first == again
    plan_kcal = sum(p.nutrients.calories_kcal for p in first.plan)
    assert 0.5 * first.budget.calories_kcal <= plan_kcal <= 1.1 * first.budget.calories_kcal
    assert {p.food.category for p in first.plan} >= {"grain", "vegetable"}
    assert all("dinner" in p.food.meals for p in first.plan + first.alternatives)


def test_no_plan_when_the_day_is_already_full() -> None:
    advice = recommend_meal(
        load_food_table(), Goals(calories_kcal=1800), Nutrients(1800, 0, 0, 0, 0), "dinner"
    )
    assert advice.plan == []
    assert advice.alternatives == []


def test_a_balanced_day_gets_a_dinner_close_to_its_budget() -> None:
    goals = Goals(calories_kcal=2200, protein_g=150, carbs_g=220, fat_g=70, fibre_g=30)
    advice = recommend_meal(load_food_table(), goals, Nutrients(), "dinner")
    total = Nutrients.total([p.nutrients for p in advice.plan])
    assert advice.budget.calories_kcal == 990  # capped at 1.5 x 30 % of 2200
    assert abs(total.calories_kcal - 990) <= 0.15 * 990
    assert abs(total.protein_g - advice.budget.protein_g) <= 0.15 * advice.budget.protein_g
    assert total.fat_g <= advice.budget.fat_g


def test_portions_use_natural_units() -> None:
    table = load_food_table()
    shrimp, rice = table.lookup("shrimp"), table.lookup("rice")
    assert shrimp is not None
    assert rice is not None
    small = portion_for(shrimp, 200)  # 6 g pieces are counted whole: 34 x 5.9 kcal
    assert (small.unit, small.quantity) == ("piece", 34)
    large = portion_for(rice, 2000)  # at most 350 g: two cups of 158 g
    assert (large.unit, large.quantity, large.grams) == ("cup", 2.0, 316.0)
