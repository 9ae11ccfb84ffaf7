from __future__ import annotations

import pytest

from services.mcp_server.nutrition import MEALS, UnitError, load_food_table, name_variants

SAMPLE_FOODS = ["eggs", "whole wheat bread", "black coffee", "rice", "grilled chicken", "bread"]


def test_the_table_has_at_least_200_foods_with_sane_values() -> None:
    table = load_food_table()
    assert len(table) >= 200
    names = [food.name for food in table.foods]
    assert len(names) == len(set(names))
    for food in table.foods:
        n = food.per_100g
        assert food.unit_grams, food.name
        assert all(grams > 0 for grams in food.unit_grams.values()), food.name
        assert set(food.meals) <= set(MEALS), food.name
        assert n.protein_g + n.carbs_g + n.fat_g <= 100.5, food.name
        assert n.fibre_g <= n.carbs_g or n.carbs_g == 0, food.name
        if food.category != "drink" or n.calories_kcal > 5:
            # Atwater factors: energy follows from the macros (alcoholic drinks excepted).
            atwater = 4 * n.protein_g + 4 * n.carbs_g + 9 * n.fat_g
            if food.name not in ("beer", "wine"):
                assert abs(atwater - n.calories_kcal) <= max(25, 0.2 * n.calories_kcal), food.name


@pytest.mark.parametrize("name", SAMPLE_FOODS)
def test_the_sample_queries_foods_are_known(name: str) -> None:
    assert load_food_table().lookup(name) is not None


@pytest.mark.parametrize(
    ("written", "food"),
    [
        ("Eggs", "egg"),
        ("tomatoes", "tomato"),
        ("berries", "mixed berries"),
        ("peaches", "peach"),
        ("whole-wheat bread", "whole wheat bread"),
        ("wholemeal toast", "whole wheat bread"),
        ("courgettes", "zucchini"),
        ("garbanzo beans", "chickpeas"),
        ("french fries", "french fries"),
    ],
)
def test_synonyms_plurals_and_spelling(written: str, food: str) -> None:
    found = load_food_table().lookup(written)
    assert found is not None
    assert found.name == food


def test_plurals() -> None:
    assert {"berry", "berries"} <= name_variants("berry")
    assert "peaches" in name_variants("peach")
    assert "potatoes" in name_variants("potato")


def test_unit_weights() -> None:
    table = load_food_table()
    egg, rice, milk, coffee = (table.lookup(n) for n in ("egg", "rice", "milk", "coffee"))
    assert egg is not None
    assert rice is not None
    assert milk is not None
    assert coffee is not None
    assert egg.grams_per("piece") == 50
    assert egg.count_unit == "piece"
    assert rice.grams_per("cup") == 158
    assert rice.grams_per("bowl") == 240  # the table's own bowl
    assert rice.grams_per("g") == 1
    assert rice.grams_per("oz") == 28.35
    assert milk.grams_per("ml") == 1.03
    assert milk.grams_per("l") == pytest.approx(1030)
    assert coffee.grams_per("tbsp") == pytest.approx(15)  # cup 240 g / 240 ml * 15 ml
    with pytest.raises(UnitError):
        milk.grams_per("slice")


def test_nutrients_scale_per_100g() -> None:
    chicken = load_food_table().lookup("chicken breast")
    assert chicken is not None
    assert chicken.nutrients_for(150).as_dict() == {
        "calories_kcal": 247.5,
        "protein_g": 46.5,
        "carbs_g": 0.0,
        "fat_g": 5.4,
        "fibre_g": 0.0,
    }
