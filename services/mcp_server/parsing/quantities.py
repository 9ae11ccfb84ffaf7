"""Amounts as people write them: "2", "1.5", "1/2", "half a", "a couple of", "150g", "3 cups"."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

WORD_NUMBERS: dict[str, float] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "a": 1, "an": 1, "single": 1, "couple": 2, "few": 3, "several": 3, "dozen": 12,
    "half": 0.5, "quarter": 0.25, "third": 1 / 3,
}  # fmt: skip
_PART_WORDS = {"half": 0.5, "halves": 0.5, "quarter": 0.25, "quarters": 0.25, "third": 1 / 3}
_PART_WORDS |= {"thirds": 1 / 3}

# Spellings -> the unit names the nutrition table uses.
UNIT_ALIASES: dict[str, str] = {
    "g": "g", "gr": "g", "gram": "g", "grams": "g", "gramme": "g", "grammes": "g",
    "kg": "kg", "kilo": "kg", "kilos": "kg", "kilogram": "kg", "kilograms": "kg",
    "oz": "oz", "ounce": "oz", "ounces": "oz", "lb": "lb", "lbs": "lb", "pound": "lb",
    "pounds": "lb", "ml": "ml", "millilitre": "ml", "milliliter": "ml", "millilitres": "ml",
    "milliliters": "ml", "l": "l", "litre": "l", "liter": "l", "litres": "l", "liters": "l",
    "cl": "cl", "dl": "dl", "cup": "cup", "cups": "cup", "tbsp": "tbsp", "tablespoon": "tbsp",
    "tablespoons": "tbsp", "tbs": "tbsp", "tsp": "tsp", "teaspoon": "tsp", "teaspoons": "tsp",
    "glass": "glass", "glasses": "glass", "mug": "mug", "mugs": "mug",
    "slice": "slice", "slices": "slice", "piece": "piece", "pieces": "piece",
    "bowl": "bowl", "bowls": "bowl", "plate": "plate", "plates": "plate",
    "serving": "serving", "servings": "serving", "portion": "portion", "portions": "portion",
    "helping": "helping", "helpings": "helping", "handful": "handful", "handfuls": "handful",
    "can": "can", "cans": "can", "tin": "can", "tins": "can", "bottle": "bottle",
    "bottles": "bottle", "scoop": "scoop", "scoops": "scoop", "bar": "bar", "bars": "bar",
    "fillet": "fillet", "fillets": "fillet", "packet": "packet", "packets": "packet",
    "pack": "packet", "bag": "bag", "bags": "bag", "pint": "pint", "pints": "pint",
    "shot": "shot", "shots": "shot", "clove": "clove", "cloves": "clove", "stalk": "stalk",
    "stalks": "stalk", "strip": "strip", "strips": "strip", "rasher": "strip",
    "rashers": "strip", "link": "link", "links": "link", "square": "square", "squares": "square",
    "leaf": "leaf", "leaves": "leaf", "ear": "ear", "ears": "ear", "box": "box", "pat": "pat",
    "pats": "pat", "cube": "cube", "cubes": "cube", "roll": "roll", "rolls": "roll",
    "breast": "breast", "breasts": "breast",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Amount:
    """A parsed number and the tokens it spanned [start, end)."""

    value: float
    start: int
    end: int


def _plain_number(token: str) -> float | None:
    try:
        return float(Fraction(token)) if "/" in token else float(token)
    except (ValueError, ZeroDivisionError):
        return None


def read_amount(tokens: list[str], start: int) -> Amount | None:
    """The amount that starts at tokens[start], or None when none does."""
    i = start
    token = tokens[i]
    value = _plain_number(token)
    if value is not None:
        i += 1
        if i < len(tokens) and "/" in tokens[i] and (part := _plain_number(tokens[i])) is not None:
            value, i = value + part, i + 1  # "1 1/2"
    elif token == "half" and i + 1 < len(tokens) and tokens[i + 1] in ("a", "an"):
        value, i = 0.5, i + 2  # "half a cup"
    elif token in ("a", "an") and i + 1 < len(tokens) and tokens[i + 1] in WORD_NUMBERS:
        nxt = tokens[i + 1]
        value = WORD_NUMBERS[nxt] if nxt not in ("a", "an") else 1.0
        i += 2  # "a half", "a couple", "a dozen"
    elif token in WORD_NUMBERS:
        value, i = WORD_NUMBERS[token], i + 1
    else:
        return None
    if i < len(tokens) and tokens[i] in _PART_WORDS and value >= 1 and token not in ("a", "an"):
        value, i = value * _PART_WORDS[tokens[i]], i + 1  # "three quarters"
    if tokens[i : i + 3] == ["and", "a", "half"]:
        value, i = value + 0.5, i + 3
    if i < len(tokens) and tokens[i] == "dozen" and token != "dozen":
        value, i = value * 12, i + 1
    if i < len(tokens) and tokens[i] == "of" and token in ("couple", "few", "dozen", "a"):
        i += 1
    return Amount(value=value, start=start, end=i)


def unit_of(token: str) -> str | None:
    return UNIT_ALIASES.get(token)
