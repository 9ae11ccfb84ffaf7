"""The four NutriSense operations on one user's diary, free of any MCP detail.

Every number comes from the nutrition table and plain arithmetic; a model only words the answer.
"""

from __future__ import annotations

import datetime as dt
import re

from services.mcp_server.clock import Clock, local_date, system_clock
from services.mcp_server.estimates import FoodEstimate, FoodEstimator
from services.mcp_server.identity import CallerIdentity
from services.mcp_server.nutrients import Nutrients, percent_of_goals, remaining
from services.mcp_server.nutrition import FoodTable, UnitError
from services.mcp_server.parsing.foods import FoodItem, parse_food_items
from services.mcp_server.parsing.goals import parse_goals
from services.mcp_server.parsing.meals import first_meal
from services.mcp_server.parsing.text import tokenize
from services.mcp_server.recommendations import Portion, recommend_meal
from services.mcp_server.results import (
    FoodLogResult,
    GoalSettingResult,
    GoalValues,
    LoggedItem,
    NutrientAmounts,
    ProgressResult,
    RecommendationResult,
    Suggestion,
)
from services.mcp_server.store import FoodEntry, NutritionStore

MAX_ITEM_GRAMS = 5000.0
MAX_QUERY_CHARS = 2000
MAX_ITEMS_PER_LOG = 40


class DiaryInputError(ValueError):
    """The request cannot be carried out as written; the message says why, for the model."""


def meal_by_time(moment: dt.datetime) -> str:
    """The meal a request with no meal named is most likely about, from the local time."""
    minutes = moment.hour * 60 + moment.minute
    if minutes < 10 * 60 + 30:
        return "breakfast"
    if minutes < 15 * 60:
        return "lunch"
    if minutes < 17 * 60 + 30:
        return "snack"
    return "dinner"


def _check_length(query: str) -> None:
    if len(query) > MAX_QUERY_CHARS:
        raise DiaryInputError(f"the request is too long (over {MAX_QUERY_CHARS} characters)")


def _entry_for(item: FoodItem) -> FoodEntry:
    try:
        grams = round(item.quantity * item.food.grams_per(item.unit), 1)
    except UnitError as exc:
        raise DiaryInputError(f"'{item.text}': {exc}") from exc
    if not 0 < grams <= MAX_ITEM_GRAMS:
        raise DiaryInputError(f"'{item.text}' comes to {grams:g} g, which is not plausible")
    return FoodEntry(
        food=item.food.name,
        description=item.text,
        quantity=round(item.quantity, 3),
        unit=item.unit,
        grams=grams,
        meal=item.meal,
        nutrients=item.food.nutrients_for(grams),
    )


def _logged(entry: FoodEntry) -> LoggedItem:
    return LoggedItem(
        food=entry.food,
        description=entry.description,
        quantity=entry.quantity,
        unit=entry.unit,
        grams=entry.grams,
        meal=entry.meal,
        nutrients=NutrientAmounts.of(entry.nutrients),
        estimated=entry.estimated,
    )


def _estimated_entry(estimate: FoodEstimate, phrase: str, meal: str | None) -> FoodEntry:
    per_100g = Nutrients(
        estimate.calories_kcal_per_100g,
        estimate.protein_g_per_100g,
        estimate.carbs_g_per_100g,
        estimate.fat_g_per_100g,
        estimate.fibre_g_per_100g,
    )
    grams = round(estimate.grams, 1)
    return FoodEntry(
        food=estimate.name.strip().lower(),
        description=phrase,
        quantity=grams,
        unit="g",
        grams=grams,
        meal=meal,
        nutrients=per_100g.scaled(grams / 100).rounded(),
        estimated=True,
    )


def _suggestion(portion: Portion) -> Suggestion:
    return Suggestion(
        food=portion.food.name,
        quantity=portion.quantity,
        unit=portion.unit,
        grams=portion.grams,
        nutrients=NutrientAmounts.of(portion.nutrients),
    )


class NutritionDiary:
    """Goals, food log, recommendations and progress for the caller, on their local date."""

    def __init__(
        self,
        store: NutritionStore,
        table: FoodTable,
        clock: Clock = system_clock,
        estimator: FoodEstimator | None = None,
    ) -> None:
        self.store = store
        self.table = table
        self.clock = clock
        self.estimator = estimator  # opt-in fallback for foods the table does not know

    def _today(self, caller: CallerIdentity) -> dt.date:
        return local_date(self.clock, caller.timezone)

    async def set_goals(self, caller: CallerIdentity, query: str) -> GoalSettingResult:
        _check_length(query)
        day = self._today(caller)
        try:  # the current goals: "30% protein" is a share of the calorie goal
            update = parse_goals(query, await self.store.goals_on(caller.user, day))
        except ValueError as exc:
            raise DiaryInputError(str(exc)) from exc
        goals = await self.store.set_goals(caller.user, day, update, self.clock())
        updated = [name for name, value in update.as_dict().items() if value is not None]
        return GoalSettingResult(date=day, updated=updated, goals=GoalValues.of(goals))

    async def log_food(
        self, caller: CallerIdentity, query: str, request_key: str | None = None
    ) -> FoodLogResult:
        """Log every food in `query`; a repeated `request_key` returns the first call's log."""
        entries, unknown = await self._entries_for(query)
        day = self._today(caller)
        added = await self.store.add_entries(caller.user, day, entries, self.clock(), request_key)
        if not added and request_key is not None:  # a retry: report what the first call logged
            day = await self.store.request_day(caller.user, request_key) or day
            entries = await self.store.entries_on(caller.user, day, request_key)
        day_entries = await self.store.entries_on(caller.user, day)
        goals = await self.store.goals_on(caller.user, day)
        day_totals = Nutrients.total([e.nutrients for e in day_entries])
        return FoodLogResult(
            date=day,
            items=[_logged(e) for e in entries],
            unknown=unknown,
            logged_totals=NutrientAmounts.of(Nutrients.total([e.nutrients for e in entries])),
            day_totals=NutrientAmounts.of(day_totals),
            remaining=GoalValues.of(remaining(goals, day_totals)),
        )

    async def _entries_for(self, query: str) -> tuple[list[FoodEntry], list[str]]:
        """The diary entries `query` describes, and the phrases naming no food we know."""
        _check_length(query)
        parsed = parse_food_items(query, self.table)
        if len(parsed.items) + len(parsed.unknown) > MAX_ITEMS_PER_LOG:
            raise DiaryInputError(f"at most {MAX_ITEMS_PER_LOG} foods per log, please split it")
        entries = [_entry_for(item) for item in parsed.items]
        unknown = parsed.unknown
        if self.estimator is not None and unknown:
            meals = {item.meal for item in parsed.items} or {first_meal(tokenize(query))}
            meal = meals.pop() if len(meals) == 1 else None
            estimates = [(p, await self.estimator.estimate(p)) for p in unknown]
            entries += [_estimated_entry(e, p, meal) for p, e in estimates if e is not None]
            unknown = [p for p, e in estimates if e is None]
        if not entries:
            raise DiaryInputError(
                f"no known food found in '{'; '.join(unknown) or query.strip()}': nothing was "
                "logged. Use common food names with amounts, e.g. '2 eggs and 1 slice of bread'"
            )
        return entries, unknown

    async def progress(self, caller: CallerIdentity, query: str) -> ProgressResult:
        day = self._today(caller)
        if re.search(r"\byesterday\b", query, re.IGNORECASE):
            day -= dt.timedelta(days=1)
        entries = await self.store.entries_on(caller.user, day)
        goals = await self.store.goals_on(caller.user, day)
        totals = Nutrients.total([e.nutrients for e in entries])
        by_meal: dict[str, list[Nutrients]] = {}
        for entry in entries:
            by_meal.setdefault(entry.meal or "unspecified", []).append(entry.nutrients)
        return ProgressResult(
            date=day,
            goals=GoalValues.of(goals),
            totals=NutrientAmounts.of(totals),
            remaining=GoalValues.of(remaining(goals, totals)),
            percent_of_goal=GoalValues.of(percent_of_goals(goals, totals)),
            by_meal={m: NutrientAmounts.of(Nutrients.total(v)) for m, v in by_meal.items()},
            entries=[_logged(e) for e in entries],
        )

    async def recommend(self, caller: CallerIdentity, query: str) -> RecommendationResult:
        now_local = self.clock().astimezone(caller.timezone)
        day = now_local.date()
        meal = first_meal(tokenize(query)) or meal_by_time(now_local)
        entries = await self.store.entries_on(caller.user, day)
        goals = await self.store.goals_on(caller.user, day)
        totals = Nutrients.total([e.nutrients for e in entries])
        advice = recommend_meal(self.table, goals, totals, meal)
        return RecommendationResult(
            date=day,
            meal=meal,
            goals_source="default" if goals.is_empty() else "user",
            remaining=GoalValues.of(remaining(goals, totals)),
            meal_budget=NutrientAmounts.of(advice.budget),
            meal_plan=[_suggestion(p) for p in advice.plan],
            meal_plan_totals=NutrientAmounts.of(
                Nutrients.total([p.nutrients for p in advice.plan])
            ),
            alternatives=[_suggestion(p) for p in advice.alternatives],
        )
