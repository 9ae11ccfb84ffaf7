"""Daily targets in free text: "2000 kcal, 150 g protein", "protein to 120 g", "fiber: 30".

Read from tokens (parsing/text.py), never from characters: `kcal` and `kJ` are units of their
own, and only a lone `k` right after a number ("2k", "2.5k kcal") means thousands. An amount is
a number, an optional `k`, and an optional unit (energy, grams, or percent of the calories); it
belongs to the nutrient named right after it ("150 g of protein") or right before it through
linking words ("protein goal to 150 g", "calories: 2000").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.mcp_server.nutrients import Goals
from services.mcp_server.parsing.text import tokenize

CALORIES = "calories_kcal"
_NUTRIENT_WORDS: dict[str, str] = {
    "calories": CALORIES, "calorie": CALORIES, "kcal": CALORIES, "kcals": CALORIES,
    "cal": CALORIES, "cals": CALORIES, "energy": CALORIES, "kilocalories": CALORIES,
    "protein": "protein_g", "proteins": "protein_g", "carbs": "carbs_g", "carb": "carbs_g",
    "carbohydrate": "carbs_g", "carbohydrates": "carbs_g", "fat": "fat_g", "fats": "fat_g",
    "fibre": "fibre_g", "fiber": "fibre_g", "fibres": "fibre_g", "fibers": "fibre_g",
}  # fmt: skip
# Energy units -> kcal per unit (1 kcal = 4.184 kJ).
_ENERGY_UNITS: dict[str, float] = {
    "kcal": 1, "kcals": 1, "calories": 1, "calorie": 1, "cal": 1, "cals": 1,
    "kilocalories": 1, "kilocalorie": 1, "kj": 1 / 4.184, "kjs": 1 / 4.184,
    "kilojoules": 1 / 4.184, "kilojoule": 1 / 4.184, "mj": 1000 / 4.184, "megajoules": 1000 / 4.184,
}  # fmt: skip
_MASS_UNITS: dict[str, float] = {
    "g": 1, "gr": 1, "grs": 1, "gram": 1, "grams": 1, "gramme": 1, "grammes": 1, "mg": 0.001,
}  # fmt: skip
_PERCENT = frozenset({"%", "percent", "pct"})
# kcal per gram, for macros given as a share of the calories ("30% protein").
_KCAL_PER_GRAM = {"protein_g": 4.0, "carbs_g": 4.0, "fat_g": 9.0}
# Words that may stand between a nutrient and its amount: "protein goal should be about 150 g".
_LINKS_TEXT = """goal goals target targets intake limit budget to of at = : is be should around
    about approx approximately roughly daily per day a set least max maximum min minimum my total
    - needs need want"""
_LINKS = frozenset(_LINKS_TEXT.split())
_MAX_LINKS = 5

# Plausible daily targets; outside them the text was probably misread, so we refuse.
LIMITS: dict[str, tuple[float, float]] = {
    "calories_kcal": (500, 10000),
    "protein_g": (0, 600),
    "carbs_g": (0, 1500),
    "fat_g": (0, 600),
    "fibre_g": (0, 200),
}


# "2 000 kcal", "2.000 kcal": a space (plain, no-break or narrow) or a dot between thousands,
# before an energy unit only, so "fat 60 100 g carbs" stays two numbers ("8.368 MJ" is MJ).
_SPACED_THOUSANDS = re.compile(
    r"(?<![\d.])(\d{1,3})[ \u00a0\u202f](\d{3})(?=\s*(?:k?cals?\b|calor|kj\b|kilo|mj\b))", re.I
)
_DOTTED_THOUSANDS = re.compile(
    r"(?<![\d.])(\d{1,2})\.(\d{3})(?=\s*(?:k?cals?\b|calor|kj\b|kilo))", re.I
)


class GoalParseError(ValueError):
    """The text names no goal, or a goal outside plausible daily limits."""


@dataclass(frozen=True, slots=True)
class _Amount:
    value: float  # in the unit's base: kcal for energy, grams for mass, percent for "%"
    kind: str  # "energy", "mass", "percent" or "" (no unit)
    start: int
    end: int  # token index just past the amount and its unit


def _number(token: str) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


def _read_amount(tokens: list[str], start: int) -> _Amount | None:
    value = _number(tokens[start])
    if value is None:
        return None
    i = start + 1
    if i < len(tokens) and tokens[i] == "k":  # "2k", "2.5k kcal": thousands
        value, i = value * 1000, i + 1
    if i + 1 < len(tokens) and tokens[i] == "-" and tokens[i + 1] in _ENERGY_UNITS:
        i += 1  # "an 1800-calorie diet"
    unit = tokens[i] if i < len(tokens) else ""
    if unit in _ENERGY_UNITS:
        return _Amount(value * _ENERGY_UNITS[unit], "energy", start, i + 1)
    if unit in _MASS_UNITS:
        return _Amount(value * _MASS_UNITS[unit], "mass", start, i + 1)
    if unit in _PERCENT:
        return _Amount(value, "percent", start, i + 1)
    return _Amount(value, "", start, i)


def _nutrient_after(tokens: list[str], amount: _Amount, free: set[int]) -> int | None:
    """The index of the nutrient named right after the amount ("150 g (of) protein")."""
    i = amount.end
    if i < len(tokens) and tokens[i] in ("of", "from"):
        i += 1
    return i if i in free else None


def _nutrient_before(tokens: list[str], amount: _Amount, free: set[int]) -> int | None:
    """The index of the nutrient that links to the amount ("protein goal to 150 g")."""
    for j in range(amount.start - 1, max(-1, amount.start - 2 - _MAX_LINKS), -1):
        if j in free:
            return j
        if tokens[j] not in _LINKS:
            return None
    return None


def _has_amount_after(tokens: list[str], index: int) -> bool:
    """Whether the nutrient at `index` is followed (through links) by a number of its own."""
    for j in range(index + 1, min(len(tokens), index + 2 + _MAX_LINKS)):
        if _number(tokens[j]) is not None:
            return True
        if tokens[j] not in _LINKS:
            return False
    return False


def _owner(tokens: list[str], amount: _Amount, free: set[int]) -> int | None:
    """Which free nutrient mention this amount belongs to, if any."""
    after = _nutrient_after(tokens, amount, free)
    before = _nutrient_before(tokens, amount, free)
    if amount.kind == "energy":
        # "protein: 500 kcal" is a (refused) protein goal; in "2000 kcal protein 150 g" the
        # protein after the energy has an amount of its own.
        if before is not None:
            return before
        return after if after is not None and _NUTRIENT_WORDS[tokens[after]] == CALORIES else None
    if after is not None and before is not None:
        # "protein 150 carbs 200": carbs has its own number, so 150 is protein's.
        return before if _has_amount_after(tokens, after) else after
    return after if after is not None else before


def _pairs(tokens: list[str]) -> list[tuple[str, _Amount]]:
    free = {i for i, token in enumerate(tokens) if token in _NUTRIENT_WORDS}
    pairs: list[tuple[str, _Amount]] = []
    i = 0
    while i < len(tokens):
        amount = _read_amount(tokens, i)
        if amount is None:
            i += 1
            continue
        free.discard(amount.end - 1)  # a unit that is also a nutrient word: "2000 calories"
        owner = _owner(tokens, amount, free)
        if owner is not None:
            free.discard(owner)
            pairs.append((_NUTRIENT_WORDS[tokens[owner]], amount))
        elif amount.kind == "energy":
            pairs.append((CALORIES, amount))
        i = amount.end
    return pairs


def _value(nutrient: str, amount: _Amount, calories: float | None) -> float:
    label = nutrient.split("_")[0]
    if nutrient == CALORIES and amount.kind in ("mass", "percent"):
        raise GoalParseError("a calorie goal is an energy: write it in kcal or kJ, e.g. 2000 kcal")
    if nutrient != CALORIES and amount.kind == "energy":
        raise GoalParseError(f"a {label} goal is in grams, e.g. 150 g {label}")
    if amount.kind != "percent":
        return round(amount.value, 1) if nutrient == CALORIES else amount.value
    if nutrient not in _KCAL_PER_GRAM:
        raise GoalParseError(f"a {label} goal is in grams, not a percent of the calories")
    if calories is None:
        raise GoalParseError(
            f"{amount.value:g}% {label} needs a calorie goal: set one too, e.g. "
            f"'2000 kcal, {amount.value:g}% {label}'"
        )
    return round(calories * amount.value / 100 / _KCAL_PER_GRAM[nutrient], 1)


def _check(nutrient: str, value: float) -> None:
    low, high = LIMITS[nutrient]
    if not low <= value <= high:
        label, unit = nutrient.rsplit("_", 1)
        raise GoalParseError(
            f"{label} goal {value:g} {unit} is outside the plausible range {low:g}-{high:g} {unit}"
        )


def parse_goals(text: str, current: Goals | None = None) -> Goals:
    """The goals `text` sets; only those, so a partial update leaves the others alone.

    Macros given in percent ("30% protein") are a share of the calorie goal that `text` sets,
    else of the `current` one.
    """
    joined = _DOTTED_THOUSANDS.sub(r"\1\2", _SPACED_THOUSANDS.sub(r"\1\2", text))
    pairs = _pairs(tokenize(joined))
    if not pairs:
        raise GoalParseError(
            "no goal found: name a nutrient and an amount, e.g. '2000 kcal, 120 g protein'"
        )
    values: dict[str, float] = {}
    for nutrient, amount in pairs:
        if amount.kind != "percent":
            values[nutrient] = _value(nutrient, amount, None)
            _check(nutrient, values[nutrient])
    calories = values.get(CALORIES, current.calories_kcal if current else None)
    for nutrient, amount in pairs:
        if amount.kind == "percent":
            values[nutrient] = _value(nutrient, amount, calories)
            _check(nutrient, values[nutrient])
    return Goals(**values)
