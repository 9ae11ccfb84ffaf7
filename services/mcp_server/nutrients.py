"""The five tracked nutrients as one value type, and the arithmetic the tools report."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

# Field name -> what a person calls it, with its unit.
NUTRIENT_LABELS: dict[str, str] = {
    "calories_kcal": "calories (kcal)",
    "protein_g": "protein (g)",
    "carbs_g": "carbs (g)",
    "fat_g": "fat (g)",
    "fibre_g": "fibre (g)",
}


def round1(value: float) -> float:
    """One decimal: what every tool shows, so totals add up to the items a user sees."""
    return round(value + 0.0, 1)


@dataclass(frozen=True, slots=True)
class Nutrients:
    """Energy and macronutrients of some amount of food (or a day's total, or a goal)."""

    calories_kcal: float = 0.0
    protein_g: float = 0.0
    carbs_g: float = 0.0
    fat_g: float = 0.0
    fibre_g: float = 0.0

    NAMES: ClassVar[tuple[str, ...]] = tuple(NUTRIENT_LABELS)

    def __add__(self, other: Nutrients) -> Nutrients:
        return Nutrients(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def __sub__(self, other: Nutrients) -> Nutrients:
        return Nutrients(*(a - b for a, b in zip(self.values(), other.values(), strict=True)))

    def scaled(self, factor: float) -> Nutrients:
        return Nutrients(*(value * factor for value in self.values()))

    def rounded(self) -> Nutrients:
        return Nutrients(*(round1(value) for value in self.values()))

    def values(self) -> tuple[float, ...]:
        return tuple(getattr(self, field.name) for field in fields(self))

    def as_dict(self) -> dict[str, float]:
        return {name: round1(getattr(self, name)) for name in self.NAMES}

    @classmethod
    def total(cls, items: list[Nutrients]) -> Nutrients:
        result = cls()
        for item in items:
            result = result + item
        return result.rounded()


@dataclass(frozen=True, slots=True)
class Goals:
    """Daily targets; None where the user has not set one."""

    calories_kcal: float | None = None
    protein_g: float | None = None
    carbs_g: float | None = None
    fat_g: float | None = None
    fibre_g: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in Nutrients.NAMES}

    def is_empty(self) -> bool:
        return all(value is None for value in self.as_dict().values())

    def merged(self, update: Goals) -> Goals:
        """These goals with every target `update` sets replaced (a partial update)."""
        current = self.as_dict()
        current.update({k: v for k, v in update.as_dict().items() if v is not None})
        return Goals(**current)


def remaining(goals: Goals, totals: Nutrients) -> dict[str, float | None]:
    """What is left of each set goal (negative when exceeded); None where no goal is set."""
    out: dict[str, float | None] = {}
    for name, target in goals.as_dict().items():
        out[name] = None if target is None else round1(target - getattr(totals, name))
    return out


def percent_of_goals(goals: Goals, totals: Nutrients) -> dict[str, float | None]:
    """Share of each set goal reached so far, in percent with one decimal."""
    out: dict[str, float | None] = {}
    for name, target in goals.as_dict().items():
        if target is None or target <= 0:
            out[name] = None
        else:
            out[name] = round1(100.0 * getattr(totals, name) / target)
    return out
