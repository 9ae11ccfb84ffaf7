"""Meal suggestions computed from what is left of today's goals.

The meal's budget is its share of what remains (dinner, the last main meal, gets all of it,
within a cap). A meal has slots (protein, grain, vegetable for dinner); every table food tagged
for that meal is sized to its slot's calories in its natural unit, and a small beam search keeps
the combinations closest to the budget (each nutrient relative to its daily goal; fat counts only
when over). Deterministic: ties go to the alphabetically first foods.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.mcp_server.nutrients import Goals, Nutrients
from services.mcp_server.nutrition import Food, FoodTable

# FDA Daily Values, used when the user has set no goal for a nutrient.
REFERENCE_GOALS = Goals(calories_kcal=2000, protein_g=50, carbs_g=275, fat_g=78, fibre_g=28)
# Meals in the order of a day, with their usual share of the day's energy.
MEAL_WEIGHTS: dict[str, float] = {"breakfast": 0.25, "lunch": 0.35, "snack": 0.1, "dinner": 0.3}
# Slots of each meal: (categories that fill it, share of the meal's calories).
MEAL_SLOTS: dict[str, list[tuple[frozenset[str], float]]] = {
    "breakfast": [
        (frozenset({"protein", "dairy"}), 0.4),
        (frozenset({"grain"}), 0.4),
        (frozenset({"fruit"}), 0.2),
    ],
    "lunch": [
        (frozenset({"protein", "legume"}), 0.45),
        (frozenset({"grain"}), 0.35),
        (frozenset({"vegetable"}), 0.2),
    ],
    "dinner": [
        (frozenset({"protein", "legume"}), 0.45),
        (frozenset({"grain"}), 0.35),
        (frozenset({"vegetable"}), 0.2),
    ],
    "snack": [(frozenset({"fruit", "nut", "dairy", "snack"}), 1.0)],
}
MAX_PORTION_G = 350.0
SMALL_UNIT_G = 25.0
LIMIT_ONLY = frozenset({"fat_g"})
BEAM_WIDTH = 12
SNACK_LIKE = frozenset({"sweet", "drink", "condiment", "fat"})


@dataclass(frozen=True, slots=True)
class Portion:
    food: Food
    quantity: float
    unit: str
    grams: float
    nutrients: Nutrients


@dataclass(frozen=True, slots=True)
class MealAdvice:
    budget: Nutrients
    plan: list[Portion]
    alternatives: list[Portion]


def meal_share(meal: str) -> float:
    """The part of what is left of the day that this meal should use."""
    order = list(MEAL_WEIGHTS)
    later = order[order.index(meal) :]
    return MEAL_WEIGHTS[meal] / sum(MEAL_WEIGHTS[m] for m in later)


def effective_goals(goals: Goals) -> Goals:
    return REFERENCE_GOALS.merged(goals)


def meal_budget(goals: Goals, totals: Nutrients, meal: str) -> Nutrients:
    """This meal's share of what remains of each goal (never below zero)."""
    daily = effective_goals(goals).as_dict()
    share = meal_share(meal)
    # No meal should be more than half again its usual share of the day, however much is left.
    cap = min(1.0, 1.5 * MEAL_WEIGHTS[meal])
    values = [
        min(
            max(0.0, float(daily[n] or 0.0) - getattr(totals, n)) * share,
            cap * float(daily[n] or 0),
        )
        for n in Nutrients.NAMES
    ]
    return Nutrients(*values).rounded()


def portion_for(food: Food, kcal_target: float) -> Portion:
    """The food in its usual unit, closest to `kcal_target`: in half units up to 3 (a cup, a
    fillet), or in whole units when the unit is small (almonds, shrimp), within 350 g."""
    unit = food.default_unit
    grams_per_unit = food.unit_grams[unit]
    kcal_per_unit = food.per_100g.calories_kcal * grams_per_unit / 100.0
    step = 1.0 if grams_per_unit < SMALL_UNIT_G else 0.5
    most = (
        MAX_PORTION_G / grams_per_unit if step == 1.0 else min(3.0, MAX_PORTION_G / grams_per_unit)
    )
    wanted = kcal_target / kcal_per_unit if kcal_per_unit > 0 else 1.0
    quantity = min(max(round(wanted / step) * step, step), max(step, most // step * step))
    grams = round(quantity * grams_per_unit, 1)
    return Portion(food, quantity, unit, grams, food.nutrients_for(grams))


def distance(budget: Nutrients, eaten: Nutrients, scale: dict[str, float | None]) -> float:
    """How far a meal is from its budget, each nutrient relative to its daily goal (`scale`:
    the effective goals as a dict, worked out once per recommendation, not once per plan)."""
    total = 0.0
    for name in Nutrients.NAMES:
        gap = getattr(budget, name) - getattr(eaten, name)
        # Going over costs twice as much as falling short: budgets are upper bounds. Fat is
        # only a limit: a meal that leaves fat budget unused is no worse for it.
        shortfall = 0.0 if name in LIMIT_ONLY else gap
        total += (shortfall if gap >= 0 else 2 * -gap) / float(scale[name] or 1.0)
    return total


def _plan_meal(
    budget: Nutrients, candidates: list[Food], scale: dict[str, float | None], meal: str
) -> list[Portion]:
    """Fill the meal's slots with a small beam search: after each slot keep the few partial
    meals closest to that point's share of the budget; the final pick is judged whole."""
    beam: list[tuple[Portion, ...]] = [()]
    done = 0.0
    for categories, share in MEAL_SLOTS[meal]:
        done += share
        target = budget.scaled(done)
        options = [
            portion_for(food, budget.calories_kcal * share)
            for food in candidates
            if food.category in categories
        ]
        grown = [
            (*plan, option)
            for plan in beam
            for option in options
            if option.food not in (p.food for p in plan)
        ]
        if not grown:
            continue
        grown.sort(key=lambda plan: (distance(target, _sum(plan), scale), _names(plan)))
        beam = grown[:BEAM_WIDTH]
    return list(beam[0])


def _sum(plan: tuple[Portion, ...]) -> Nutrients:
    return Nutrients.total([p.nutrients for p in plan])


def _names(plan: tuple[Portion, ...]) -> tuple[str, ...]:
    return tuple(p.food.name for p in plan)


def recommend_meal(table: FoodTable, goals: Goals, totals: Nutrients, meal: str) -> MealAdvice:
    budget = meal_budget(goals, totals, meal)
    if budget.calories_kcal < 50:
        return MealAdvice(budget=budget, plan=[], alternatives=[])
    candidates = [f for f in table.for_meal(meal) if f.category not in SNACK_LIKE]
    scale = effective_goals(goals).as_dict()
    plan = _plan_meal(budget, candidates, scale, meal)
    chosen = {p.food.name for p in plan}
    singles = [
        portion_for(food, budget.calories_kcal * 0.5)
        for food in candidates
        if food.name not in chosen
    ]
    singles.sort(key=lambda p: (distance(budget.scaled(0.5), p.nutrients, scale), p.food.name))
    return MealAdvice(budget=budget, plan=plan, alternatives=singles[:4])
