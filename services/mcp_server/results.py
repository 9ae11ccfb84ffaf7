"""What each tool returns: a typed record (the MCP `structuredContent`, numbers as numbers) that
also renders itself as short text the model can quote."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from services.mcp_server.nutrients import NUTRIENT_LABELS, Goals, Nutrients


class NutrientAmounts(BaseModel):
    calories_kcal: float
    protein_g: float
    carbs_g: float
    fat_g: float
    fibre_g: float

    @classmethod
    def of(cls, nutrients: Nutrients) -> NutrientAmounts:
        return cls(**nutrients.as_dict())

    def brief(self) -> str:
        return (
            f"{self.calories_kcal:g} kcal, {self.protein_g:g} g protein, {self.carbs_g:g} g carbs, "
            f"{self.fat_g:g} g fat, {self.fibre_g:g} g fibre"
        )


class GoalValues(BaseModel):
    """One number per nutrient; null where no goal is set."""

    calories_kcal: float | None = None
    protein_g: float | None = None
    carbs_g: float | None = None
    fat_g: float | None = None
    fibre_g: float | None = None

    @classmethod
    def of(cls, values: Goals | dict[str, float | None]) -> GoalValues:
        return cls(**(values.as_dict() if isinstance(values, Goals) else values))

    def brief(self, percent: bool = False) -> str:
        """ "calories 2000 kcal, protein 100 g" (or "calories 25%, ..." for percentages)."""
        parts = [
            f"{NUTRIENT_LABELS[name].split(' (')[0]} {value:g}{'%' if percent else _unit(name)}"
            for name, value in self.model_dump().items()
            if value is not None
        ]
        return ", ".join(parts) if parts else "none set"


def _unit(name: str) -> str:
    return " kcal" if name == "calories_kcal" else " g"


class LoggedItem(BaseModel):
    food: str = Field(description="the food's name in the nutrition table")
    description: str = Field(description="the user's words for this item")
    quantity: float
    unit: str
    grams: float
    meal: str | None
    nutrients: NutrientAmounts
    estimated: bool = Field(
        default=False, description="true when the values are a model's estimate, not the table's"
    )

    def brief(self) -> str:
        meal = f" [{self.meal}]" if self.meal else ""
        meal += " (estimate, not from the table)" if self.estimated else ""
        return (
            f"- {self.food}: {self.quantity:g} {self.unit} ({self.grams:g} g){meal}: "
            f"{self.nutrients.brief()}"
        )


class ToolResult(BaseModel):
    """A tool's record; `text()` is what the model reads."""

    def text(self) -> str:
        raise NotImplementedError


class GoalSettingResult(ToolResult):
    date: dt.date = Field(description="the user's local date the goals take effect")
    updated: list[str] = Field(description="the goals this call changed")
    goals: GoalValues = Field(description="all of the user's daily goals after the update")

    def text(self) -> str:
        changed = ", ".join(name.split("_")[0] for name in self.updated)
        return (
            f"Updated {changed} (from {self.date.isoformat()}). "
            f"Daily goals now: {self.goals.brief()}."
        )


class FoodLogResult(ToolResult):
    date: dt.date
    items: list[LoggedItem]
    unknown: list[str] = Field(description="phrases naming no food in the table (not logged)")
    logged_totals: NutrientAmounts = Field(description="sum of the items logged by this call")
    day_totals: NutrientAmounts = Field(description="everything logged today, this call included")
    remaining: GoalValues = Field(description="goal minus today's total; null without a goal")

    def text(self) -> str:
        lines = [f"Logged {len(self.items)} item(s) for {self.date.isoformat()}:"]
        lines += [item.brief() for item in self.items]
        lines.append(f"This log: {self.logged_totals.brief()}.")
        lines.append(f"Today so far: {self.day_totals.brief()}.")
        if any(v is not None for v in self.remaining.model_dump().values()):
            lines.append(f"Left for today: {self.remaining.brief()}.")
        if self.unknown:
            lines.append(
                "Not logged, not in the nutrition table: " + "; ".join(self.unknown) + ". "
                "Ask the user for a common name or the weight of a known food."
            )
        return "\n".join(lines)


class ProgressResult(ToolResult):
    date: dt.date
    goals: GoalValues
    totals: NutrientAmounts
    remaining: GoalValues = Field(description="goal minus total (negative when over)")
    percent_of_goal: GoalValues = Field(description="total / goal * 100, one decimal")
    by_meal: dict[str, NutrientAmounts]
    entries: list[LoggedItem]

    def text(self) -> str:
        lines = [f"Progress for {self.date.isoformat()} ({len(self.entries)} item(s) logged):"]
        lines.append(f"Eaten: {self.totals.brief()}.")
        if self.goals.model_dump(exclude_none=True):
            lines.append(f"Goals: {self.goals.brief()}.")
            lines.append(f"Reached: {self.percent_of_goal.brief(percent=True)}.")
            lines.append(f"Remaining: {self.remaining.brief()}.")
        else:
            lines.append("No goals set yet: ask the user for daily targets.")
        for meal, amounts in self.by_meal.items():
            lines.append(f"{meal}: {amounts.brief()}")
        return "\n".join(lines)


class Suggestion(BaseModel):
    food: str
    quantity: float
    unit: str
    grams: float
    nutrients: NutrientAmounts

    def brief(self) -> str:
        amount = f"{self.quantity:g} {self.unit} ({self.grams:g} g)"
        return f"- {self.food}, {amount}: {self.nutrients.brief()}"


class RecommendationResult(ToolResult):
    date: dt.date
    meal: str
    goals_source: Literal["user", "default"] = Field(
        description="'default' when the user set no goals and reference values were used"
    )
    remaining: GoalValues = Field(description="what is left of today's goals")
    meal_budget: NutrientAmounts = Field(description="the share of what is left for this meal")
    meal_plan: list[Suggestion] = Field(description="one combined meal that fits the budget")
    meal_plan_totals: NutrientAmounts
    alternatives: list[Suggestion] = Field(description="other single foods that fit the budget")

    def text(self) -> str:
        source = "your goals" if self.goals_source == "user" else "reference goals (none set)"
        lines = [
            f"{self.meal.capitalize()} ideas for {self.date.isoformat()} from {source}.",
            f"Left today: {self.remaining.brief()}.",
            f"Budget for this {self.meal}: {self.meal_budget.brief()}.",
        ]
        if not self.meal_plan:
            lines.append("Today's calorie goal is reached: suggest water or plain vegetables.")
            return "\n".join(lines)
        lines += [
            "Suggested meal:",
            *(item.brief() for item in self.meal_plan),
            f"Meal total: {self.meal_plan_totals.brief()}.",
        ]
        if self.alternatives:
            lines += ["Alternatives:", *(item.brief() for item in self.alternatives)]
        return "\n".join(lines)
