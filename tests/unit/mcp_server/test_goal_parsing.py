from __future__ import annotations

import pytest

from services.mcp_server.nutrients import Goals
from services.mcp_server.parsing.goals import GoalParseError, parse_goals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Set my calorie goal to 2000 calories, 100g protein, 100g carbs, 100g fibre.",
            Goals(calories_kcal=2000, protein_g=100, carbs_g=100, fibre_g=100),
        ),
        ("protein to 120 g", Goals(protein_g=120)),
        ("calories: 1,800 and fat 70g", Goals(calories_kcal=1800, fat_g=70)),
        ("I want 2.5k kcal a day", Goals(calories_kcal=2500)),
        ("my fiber goal is 30", Goals(fibre_g=30)),
        ("carbs 250 grams, fat: 60", Goals(carbs_g=250, fat_g=60)),
        ("2200 calories with 150 grams of protein", Goals(calories_kcal=2200, protein_g=150)),
        ("Carbohydrates 300g; FATS 80 g; Fibre 35g", Goals(carbs_g=300, fat_g=80, fibre_g=35)),
        ("set energy to 1900", Goals(calories_kcal=1900)),
    ],
)
def test_goals_are_read_from_free_text(text: str, expected: Goals) -> None:
    assert parse_goals(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Set my calorie goal to 2000 kcal",
        "2000 kcal",
        "2000kcal",
        "2000 KCAL",
        "2,000 kcal",
        "2,000kcal",
        "2 000 kcal",
        "2\u202f000 kcal",
        "2 000 calories",
        "2.000 kcal",
        "2000 kcals",
        "2000 calories",
        "2000 calorie",
        "2000 cal",
        "2000 cals",
        "2000 Cal",
        "2000 kilocalories",
        "2k kcal",
        "2K calories",
        "calories 2k",
        "calories: 2000",
        "calorie goal: 2000 kcal",
        "my daily calorie target should be about 2000 kcal",
        "energy 2000",
        "set my calories to 2000 per day",
        "I'm on a 2000-calorie diet",
        "2000 kcal/day",
        "2000 kcal a day",
        "8368 kJ",
        "8368kJ",
        "8,368 kilojoules",
        "8.368 MJ",
    ],
)
def test_every_common_way_to_write_a_calorie_goal(text: str) -> None:
    assert parse_goals(text) == Goals(calories_kcal=2000)


@pytest.mark.parametrize(
    ("text", "calories"),
    [
        ("1800kcal", 1800),
        ("Set my calorie goal to 1800kcal", 1800),
        ("2.5k kcal", 2500),
        ("8400 kJ", 2007.6),
        ("calories 1500.5", 1500.5),
    ],
)
def test_calorie_goals_keep_their_value(text: str, calories: float) -> None:
    assert parse_goals(text) == Goals(calories_kcal=calories)


@pytest.mark.parametrize(
    "text",
    [
        "150 g protein",
        "150g protein",
        "150g of protein",
        "150 grams of protein",
        "150 gram protein",
        "150 gr protein",
        "150 protein",
        "protein 150 grams",
        "protein 150g",
        "protein: 150 g",
        "protein = 150",
        "protein to 150",
        "set my protein goal to 150g",
        "my protein target should be 150 g per day",
        "Proteins 150g",
        "150000 mg protein",
    ],
)
def test_every_common_way_to_write_a_macro_goal(text: str) -> None:
    assert parse_goals(text) == Goals(protein_g=150)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2000 kcal, 150g protein, 250g carbs, 70g fat, 30g fiber",
            Goals(calories_kcal=2000, protein_g=150, carbs_g=250, fat_g=70, fibre_g=30),
        ),
        (
            "protein 150 carbs 200 fat 60",
            Goals(protein_g=150, carbs_g=200, fat_g=60),
        ),
        (
            "150 g protein 200 g carbs 60 g fat",
            Goals(protein_g=150, carbs_g=200, fat_g=60),
        ),
        (
            "fat 60 100 g carbs 150 g protein",
            Goals(protein_g=150, carbs_g=100, fat_g=60),
        ),
        (
            "2000 kcal protein 150 g",
            Goals(calories_kcal=2000, protein_g=150),
        ),
        (
            "I want to eat 1800 calories and 120g of protein daily",
            Goals(calories_kcal=1800, protein_g=120),
        ),
        (
            "calories 2000 protein 150g",
            Goals(calories_kcal=2000, protein_g=150),
        ),
        (
            "Set my calorie goal to 2000 kcal and protein to 120 grams",
            Goals(calories_kcal=2000, protein_g=120),
        ),
        (
            "raise my protein to 140 g, keep 1800 kcal",
            Goals(calories_kcal=1800, protein_g=140),
        ),
        (
            "2000 kcal with 30% protein, 40% carbs and 30% fat",
            Goals(calories_kcal=2000, protein_g=150, carbs_g=200, fat_g=66.7),
        ),
    ],
)
def test_several_goals_in_one_message(text: str, expected: Goals) -> None:
    assert parse_goals(text) == expected


def test_percent_macros_use_the_current_calorie_goal() -> None:
    assert parse_goals("25 percent protein", Goals(calories_kcal=2400)) == Goals(protein_g=150)
    with pytest.raises(GoalParseError, match="needs a calorie goal"):
        parse_goals("25% protein")


def test_only_named_goals_are_set() -> None:
    goals = parse_goals("protein 140g")
    assert goals.as_dict() == {
        "calories_kcal": None,
        "protein_g": 140,
        "carbs_g": None,
        "fat_g": None,
        "fibre_g": None,
    }
    merged = Goals(calories_kcal=2000, protein_g=100).merged(goals)
    assert merged == Goals(calories_kcal=2000, protein_g=140)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("be healthier", "no goal found"),
        ("eat 3 meals a day", "no goal found"),
        ("protein 9000", "protein goal 9000 g is outside the plausible range 0-600 g"),
        ("calories 100", "calories goal 100 kcal is outside the plausible range"),
        ("20k kcal", "calories goal 20000 kcal is outside"),
        ("2000 g calories", "write it in kcal"),
        ("protein 500 kcal", "protein goal is in grams"),
        ("30% fibre, 2000 kcal", "not a percent"),
    ],
)
def test_unreadable_or_implausible_goals_are_refused(text: str, message: str) -> None:
    with pytest.raises(GoalParseError, match=message):
        parse_goals(text)
