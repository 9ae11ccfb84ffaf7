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
        ("protein 9000", "plausible range"),
        ("calories 100", "plausible range"),
    ],
)
def test_unreadable_or_implausible_goals_are_refused(text: str, message: str) -> None:
    with pytest.raises(GoalParseError, match=message):
        parse_goals(text)
