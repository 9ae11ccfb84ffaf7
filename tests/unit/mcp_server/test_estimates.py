from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.mcp_server.estimates import FoodEstimate


def estimate(kcal: float, protein: float, carbs: float, fat: float) -> FoodEstimate:
    return FoodEstimate(
        name="x",
        grams=100,
        calories_kcal_per_100g=kcal,
        protein_g_per_100g=protein,
        carbs_g_per_100g=carbs,
        fat_g_per_100g=fat,
        fibre_g_per_100g=0,
    )


def test_an_estimate_must_add_up() -> None:
    assert estimate(300, 8, 30, 16.5).is_consistent()  # 300.5 by Atwater
    assert estimate(30, 0, 0, 0).is_consistent()  # within the 40 kcal slack
    assert not estimate(900, 1, 1, 0).is_consistent()
    assert not estimate(400, 60, 60, 0).is_consistent()  # 120 g of macros in 100 g


def test_an_estimate_out_of_range_is_rejected() -> None:
    with pytest.raises(ValidationError):
        estimate(1200, 0, 0, 100)
