from __future__ import annotations

import pytest

from services.mcp_server.nutrition import load_food_table
from services.mcp_server.parsing.foods import parse_food_items
from services.mcp_server.parsing.quantities import read_amount
from services.mcp_server.parsing.text import tokenize


def items(text: str) -> list[tuple[str, float, str, str | None]]:
    parsed = parse_food_items(text, load_food_table())
    return [(i.food.name, round(i.quantity, 3), i.unit, i.meal) for i in parsed.items]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Log the food for breakfast - I had 2 eggs, 1 slice of bread, and 1 cup of coffee.",
            [
                ("egg", 2, "piece", "breakfast"),
                ("white bread", 1, "slice", "breakfast"),
                ("coffee", 1, "cup", "breakfast"),
            ],
        ),
        (
            "2 eggs, 1 slice of whole wheat bread and a cup of black coffee",
            [
                ("egg", 2, "piece", None),
                ("whole wheat bread", 1, "slice", None),
                ("coffee", 1, "cup", None),
            ],
        ),
        (
            "half a cup of rice and 150g grilled chicken for lunch",
            [("white rice", 0.5, "cup", "lunch"), ("chicken breast", 150, "g", "lunch")],
        ),
        (
            "2 eggs for breakfast and mac and cheese for dinner",
            [("egg", 2, "piece", "breakfast"), ("mac and cheese", 1, "cup", "dinner")],
        ),
        (
            "For breakfast I had oatmeal with 1 banana; for lunch a caesar salad",
            [
                ("oatmeal", 1, "cup", "breakfast"),
                ("banana", 1, "piece", "breakfast"),
                ("caesar salad", 1, "bowl", "lunch"),
            ],
        ),
        (
            "rice 200g, chicken breast (150 g)",
            [("white rice", 200, "g", None), ("chicken breast", 150, "g", None)],
        ),
        ("1 1/2 cups of skim milk", [("skim milk", 1.5, "cup", None)]),
        ("three quarters of a cup of greek yogurt", [("greek yogurt", 0.75, "cup", None)]),
        ("one and a half bagels", [("bagel", 1.5, "piece", None)]),
        ("a dozen strawberries", [("strawberries", 12, "piece", None)]),
        ("a 150g steak", [("beef steak", 150, "g", None)]),
        (
            "2 tbsp peanut butter on 2 slices of toast",
            [("peanut butter", 2, "tbsp", None), ("white bread", 2, "slice", None)],
        ),
        ("½ avocado", [("avocado", 0.5, "piece", None)]),
        ("300 ml orange juice", [("orange juice", 300, "ml", None)]),
        ("Two Hard-Boiled Eggs as a snack", [("egg", 2, "piece", "snack")]),
        ("3 tomatoes and 2 peaches", [("tomato", 3, "piece", None), ("peach", 2, "piece", None)]),
    ],
)
def test_food_items_with_amounts_units_and_meals(
    text: str, expected: list[tuple[str, float, str, str | None]]
) -> None:
    assert items(text) == expected


def test_text_naming_no_known_food_is_reported() -> None:
    parsed = parse_food_items("I had 1 apple, 3 zorblax and a glorp", load_food_table())
    assert [i.food.name for i in parsed.items] == ["apple"]
    assert parsed.unknown == ["3 zorblax", "a glorp"]


def test_filler_is_not_an_unknown_food() -> None:
    parsed = parse_food_items("Please log this for lunch today: 1 pear", load_food_table())
    assert parsed.unknown == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2),
        ("1.5", 1.5),
        ("1/2", 0.5),
        ("1 1/2", 1.5),
        ("half a", 0.5),
        ("a couple of", 2),
        ("a few", 3),
        ("three quarters", 0.75),
        ("two and a half", 2.5),
        ("an", 1),
        ("a dozen", 12),
    ],
)
def test_amounts(text: str, value: float) -> None:
    amount = read_amount(tokenize(text), 0)
    assert amount is not None
    assert amount.value == pytest.approx(value)


def test_tokens_split_numbers_from_units() -> None:
    assert tokenize("150g Whole-Wheat, 2,000 kcal") == [
        "150",
        "g",
        "whole",
        "wheat",
        ",",
        "2000",
        "kcal",
    ]


def test_words_after_a_name_that_make_it_another_food_are_not_logged_as_it() -> None:
    parsed = parse_food_items("1 apple and 2 eggs florentine", load_food_table())
    assert [i.food.name for i in parsed.items] == ["apple"]
    assert parsed.unknown == ["eggs florentine"]


@pytest.mark.parametrize(
    "text", ["2 eggs scrambled", "2 eggs at the office", "2 eggs this morning", "2 eggs, fried"]
)
def test_how_or_where_a_food_was_eaten_changes_nothing(text: str) -> None:
    parsed = parse_food_items(text, load_food_table())
    assert [(i.food.name, i.quantity) for i in parsed.items] == [("egg", 2)]
    assert parsed.unknown == []
