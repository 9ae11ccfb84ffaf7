"""Daily targets in free text: "2000 calories, 100g protein", "protein to 120 g", "fiber: 30"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.mcp_server.nutrients import Goals
from services.mcp_server.parsing.text import normalize

_NUTRIENT_WORDS: dict[str, str] = {
    "calories": "calories_kcal", "calorie": "calories_kcal", "kcal": "calories_kcal",
    "kcals": "calories_kcal", "cal": "calories_kcal", "cals": "calories_kcal",
    "energy": "calories_kcal", "protein": "protein_g", "proteins": "protein_g",
    "carbs": "carbs_g", "carb": "carbs_g", "carbohydrate": "carbs_g",
    "carbohydrates": "carbs_g", "fat": "fat_g", "fats": "fat_g", "fibre": "fibre_g",
    "fiber": "fibre_g", "fibres": "fibre_g", "fibers": "fibre_g",
}  # fmt: skip
# Plausible daily targets; outside them the text was probably misread, so we refuse.
LIMITS: dict[str, tuple[float, float]] = {
    "calories_kcal": (500, 10000),
    "protein_g": (0, 600),
    "carbs_g": (0, 1500),
    "fat_g": (0, 600),
    "fibre_g": (0, 200),
}

_NUTRIENT = "|".join(sorted(_NUTRIENT_WORDS, key=len, reverse=True))
_NUMBER = r"\d+(?:\.\d+)?\s*k?"
_UNIT = r"(?:k?cals?|kcals?|calories|grams?|gr|g)"
# "2000 calories", "100g protein", "100 grams of protein", "2000 kcal"
_AMOUNT_FIRST = re.compile(
    rf"(?P<num>{_NUMBER})\s*(?:(?P<unit>{_UNIT})\b\s*(?:of\s+)?)?(?P<nut>{_NUTRIENT})?\b"
)
# "protein to 120 g", "calorie goal to 2000", "fiber: 30", "carbs at 250"
_NUTRIENT_FIRST = re.compile(
    rf"\b(?P<nut>{_NUTRIENT})\b(?:\s+(?:goal|target|intake|limit|budget))?"
    rf"(?:\s*(?:to|of|at|=|:|is|be|should be|around|about)\s*)?\s*(?P<num>{_NUMBER})"
)


class GoalParseError(ValueError):
    """The text names no goal, or a goal outside plausible daily limits."""


@dataclass(frozen=True, slots=True)
class _Found:
    nutrient: str
    value: float
    span: tuple[int, int]


def _number(text: str) -> float:
    text = text.replace(" ", "")
    return float(text[:-1]) * 1000 if text.endswith("k") else float(text)


def _amount_first(text: str) -> list[_Found]:
    found = []
    for match in _AMOUNT_FIRST.finditer(text):
        nutrient = match["nut"]
        unit = match["unit"] or ""
        if nutrient:
            key = _NUTRIENT_WORDS[nutrient]
        elif "cal" in unit:
            key = "calories_kcal"
        else:
            continue
        found.append(_Found(key, _number(match["num"]), match.span("num")))
    return found


def _nutrient_first(text: str, taken: list[_Found]) -> list[_Found]:
    found = []
    for match in _NUTRIENT_FIRST.finditer(text):
        span = match.span("num")
        if any(span[0] < t.span[1] and t.span[0] < span[1] for t in taken):
            continue  # this number already belongs to an "amount first" phrase
        found.append(_Found(_NUTRIENT_WORDS[match["nut"]], _number(match["num"]), span))
    return found


def parse_goals(text: str) -> Goals:
    """The goals `text` sets; only those, so a partial update leaves the others alone."""
    normalized = normalize(text)
    first = _amount_first(normalized)
    found = sorted(first + _nutrient_first(normalized, first), key=lambda f: f.span)
    if not found:
        raise GoalParseError(
            "no goal found: name a nutrient and an amount, e.g. '2000 calories, 120 g protein'"
        )
    values: dict[str, float] = {}
    for item in found:
        low, high = LIMITS[item.nutrient]
        if not low <= item.value <= high:
            label = item.nutrient.replace("_kcal", "").replace("_g", "")
            raise GoalParseError(
                f"{label} goal {item.value:g} is outside the plausible range {low:g}-{high:g}"
            )
        values[item.nutrient] = item.value
    return Goals(**values)
