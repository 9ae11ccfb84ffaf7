"""The shipped nutrition table: foods with values per 100 g, unit weights, synonyms and plurals.

Values are USDA FoodData Central-like (public domain) figures for everyday foods. Every lookup is
deterministic: a food the table does not know is reported as unknown, never guessed.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from services.mcp_server.nutrients import Nutrients
from services.mcp_server.parsing.text import tokenize

DATA_FILE = "foods.csv"
MEALS = ("breakfast", "lunch", "dinner", "snack")

# Units every food has, in grams (mass) or millilitres (volume, turned into grams by density).
MASS_UNITS_G: dict[str, float] = {"g": 1.0, "kg": 1000.0, "oz": 28.35, "lb": 453.6}
VOLUME_UNITS_ML: dict[str, float] = {
    "ml": 1.0,
    "l": 1000.0,
    "cl": 10.0,
    "dl": 100.0,
    "cup": 240.0,
    "tbsp": 15.0,
    "tsp": 5.0,
    "glass": 250.0,
    "mug": 300.0,
    "fl oz": 29.57,
}
# A count with no unit ("2 eggs") means this many of the first of these the food defines.
COUNT_UNITS = frozenset(
    {
        "piece",
        "slice",
        "bar",
        "fillet",
        "breast",
        "scoop",
        "can",
        "bottle",
        "packet",
        "roll",
        "link",
    }
    | {"strip", "clove", "ear", "stalk", "square", "leaf", "cube", "shot", "box", "bag", "pat"}
)


class UnitError(ValueError):
    """The food has no known weight for that unit (e.g. a slice of milk)."""


@dataclass(frozen=True, slots=True)
class Food:
    """One table row: nutrients per 100 g and the grams of each household unit."""

    name: str
    category: str
    meals: tuple[str, ...]
    per_100g: Nutrients
    unit_grams: dict[str, float]
    synonyms: tuple[str, ...] = ()

    @property
    def default_unit(self) -> str:
        """The unit a serving is counted in: the first the table lists for this food."""
        return next(iter(self.unit_grams))

    @property
    def count_unit(self) -> str:
        """What a bare count means ("2 eggs", "10 almonds"): the food's first countable unit."""
        return next((u for u in self.unit_grams if u in COUNT_UNITS), self.default_unit)

    @property
    def serving_grams(self) -> float:
        return self.unit_grams.get("serving", self.unit_grams[self.default_unit])

    def grams_per(self, unit: str) -> float:
        """Grams in one `unit` of this food; UnitError when the unit makes no sense for it."""
        if unit in self.unit_grams:
            return self.unit_grams[unit]
        if unit in MASS_UNITS_G:
            return MASS_UNITS_G[unit]
        if unit in ("serving", "portion", "plate", "helping"):
            return self.serving_grams
        if unit in VOLUME_UNITS_ML:
            return VOLUME_UNITS_ML[unit] * self.density_g_per_ml()
        if unit == "bowl" and "cup" in self.unit_grams:
            return 1.5 * self.unit_grams["cup"]
        raise UnitError(f"no weight is known for a {unit} of {self.name}")

    def density_g_per_ml(self) -> float:
        if "ml" in self.unit_grams:
            return self.unit_grams["ml"]
        if "cup" in self.unit_grams:
            return self.unit_grams["cup"] / VOLUME_UNITS_ML["cup"]
        if "tbsp" in self.unit_grams:
            return self.unit_grams["tbsp"] / VOLUME_UNITS_ML["tbsp"]
        raise UnitError(f"{self.name} is not measured by volume")

    def nutrients_for(self, grams: float) -> Nutrients:
        return self.per_100g.scaled(grams / 100.0).rounded()


def plural_forms(word: str) -> set[str]:
    """English plurals of a name's last word, enough for food names (berry->berries, tomato...)."""
    forms = {word + "s"}
    if re.search(r"(s|x|z|ch|sh|o)$", word):
        forms.add(word + "es")
    if re.search(r"[^aeiou]y$", word):
        forms.add(word[:-1] + "ies")
    if word.endswith("f"):
        forms.add(word[:-1] + "ves")
    if word.endswith("fe"):
        forms.add(word[:-2] + "ves")
    return forms


def name_variants(name: str) -> set[str]:
    """A name as written, with its last word pluralised, and hyphens read as spaces."""
    base = name.lower().strip()
    variants = {base, base.replace("-", " ")}
    for variant in list(variants):
        head, _, last = variant.rpartition(" ")
        for plural in plural_forms(last):
            variants.add(f"{head} {plural}".strip())
    return variants


class FoodTable:
    """All foods, looked up by any name, synonym or plural (case-insensitive)."""

    def __init__(self, foods: list[Food]) -> None:
        self.foods = foods
        self._by_name: dict[str, Food] = {}
        # Canonical names and listed synonyms win over generated plurals of other foods.
        for generated in (True, False):
            for food in foods:
                for alias in (food.name, *food.synonyms):
                    forms = name_variants(alias) if generated else {alias}
                    for form in (" ".join(tokenize(f)) for f in forms):
                        if generated:
                            self._by_name.setdefault(form, food)
                        else:
                            self._by_name[form] = food
        self.max_name_words = max(len(name.split()) for name in self._by_name)

    def __len__(self) -> int:
        return len(self.foods)

    def lookup(self, name: str) -> Food | None:
        return self.lookup_tokens(tokenize(name))

    def lookup_tokens(self, tokens: list[str]) -> Food | None:
        """`lookup` for text already tokenized (the parser tries many spans of one query)."""
        return self._by_name.get(" ".join(tokens))

    def for_meal(self, meal: str) -> list[Food]:
        return [food for food in self.foods if meal in food.meals]


def _parse_units(text: str) -> dict[str, float]:
    units: dict[str, float] = {}
    for part in filter(None, text.split("|")):
        unit, _, grams = part.partition("=")
        units[unit.strip()] = float(grams)
    return units


def _food_from_row(row: dict[str, str]) -> Food:
    return Food(
        name=row["name"],
        category=row["category"],
        meals=tuple(filter(None, row["meals"].split("|"))),
        per_100g=Nutrients(
            calories_kcal=float(row["kcal"]),
            protein_g=float(row["protein"]),
            carbs_g=float(row["carbs"]),
            fat_g=float(row["fat"]),
            fibre_g=float(row["fibre"]),
        ),
        unit_grams=_parse_units(row["units"]),
        synonyms=tuple(filter(None, row["synonyms"].split("|"))),
    )


@cache
def load_food_table() -> FoodTable:
    """The table shipped in services/mcp_server/data (read once per process)."""
    text = resources.files("services.mcp_server").joinpath("data", DATA_FILE).read_text("utf-8")
    return FoodTable([_food_from_row(row) for row in csv.DictReader(text.splitlines())])
