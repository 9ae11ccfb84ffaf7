"""Which meal a food item belongs to, from phrases like "for breakfast" or "lunch: ..."."""

from __future__ import annotations

from dataclasses import dataclass

from services.mcp_server.parsing.text import SEPARATORS

MEAL_WORDS: dict[str, str] = {
    "breakfast": "breakfast",
    "brunch": "breakfast",
    "lunch": "lunch",
    "luncheon": "lunch",
    "dinner": "dinner",
    "supper": "dinner",
    "tea time": "snack",
    "snack": "snack",
    "snacks": "snack",
}


@dataclass(frozen=True, slots=True)
class MealMarker:
    """A meal named at token `position`; `trailing` when it ends its clause ("eggs for lunch")."""

    meal: str
    position: int
    trailing: bool


def find_meal_markers(tokens: list[str], taken: set[int]) -> list[MealMarker]:
    """Meal words outside food names (`taken` holds the token positions of food names)."""
    markers = []
    for i, token in enumerate(tokens):
        if token in MEAL_WORDS and i not in taken:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            trailing = nxt is None or (nxt in SEPARATORS and nxt != ":")
            markers.append(MealMarker(MEAL_WORDS[token], i, trailing))
    return markers


def meal_for(position: int, markers: list[MealMarker]) -> str | None:
    """The meal of an item at `position`: the nearer of the marker that opens its clause
    ("for breakfast I had ...") and the one that closes it ("... for lunch")."""
    if not markers:
        return None
    before = [m for m in markers if m.position < position and not m.trailing]
    after = [m for m in markers if m.position > position and m.trailing]
    candidates = ([before[-1]] if before else []) + ([after[0]] if after else [])
    if not candidates:
        candidates = markers
    return min(candidates, key=lambda m: abs(m.position - position)).meal


def first_meal(text_tokens: list[str]) -> str | None:
    """The first meal a request names (for recommendations: "ideas for dinner")."""
    for token in text_tokens:
        if token in MEAL_WORDS:
            return MEAL_WORDS[token]
    return None
