"""The NutriSense roster (teams/nutrisense.yaml) as simulator personas."""

from __future__ import annotations

from typing import Any

from services.mistral_sim.persona import Persona

QUERY_SCHEMA = {
    "type": "object",
    "properties": {"user_query": {"type": "string"}},
    "required": ["user_query"],
}

SAMPLE_QUERIES = {
    "Set my calorie goal to 2000 calories, 100g protein, 100g carbs, 100g fibre.": (
        "goal-setting-agent"
    ),
    "Log the food for breakfast - I had 2 eggs, 1 slice of bread, and 1 cup of coffee.": (
        "food-logging-agent"
    ),
    "Provide recommendations for dinner based on the goals.": "food-recommendations-agent",
    "Recommend me some restaurants in paris that serve good grilled chicken.": "web-search-agent",
    "What is the progress so far for the day?. Provide Nutrition analysis.": (
        "daily-progress-agent"
    ),
}

TOOL_OF = {
    "goal-setting-agent": "goal_setting",
    "food-logging-agent": "food_log",
    "food-recommendations-agent": "food_recommendations",
    "daily-progress-agent": "daily_progress",
}


def function_tool(name: str, description: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": QUERY_SCHEMA},
    }


# name -> (description, tools, handoff names)
ROSTER: dict[str, tuple[str, list[dict[str, Any]], list[str]]] = {
    "goal-setting-agent": (
        "Sets or updates the user's daily nutrition targets.",
        [function_tool("goal_setting", "Set/ Update the goals for the user based on their input.")],
        [
            "food-logging-agent",
            "food-recommendations-agent",
            "daily-progress-agent",
            "web-search-agent",
        ],
    ),
    "food-logging-agent": (
        "Logs what the user ate.",
        [function_tool("food_log", "Log one or more food items the user ate, with quantities.")],
        ["food-recommendations-agent", "daily-progress-agent", "web-search-agent"],
    ),
    "food-recommendations-agent": (
        "Suggests meals that fit the remaining budget.",
        [function_tool("food_recommendations", "Provide meal recommendations for the user.")],
        ["daily-progress-agent", "web-search-agent"],
    ),
    "daily-progress-agent": (
        "Reports today's totals against the goals.",
        [
            function_tool(
                "daily_progress", "Provide daily progress for the food taken by user so far."
            )
        ],
        ["food-recommendations-agent", "food-logging-agent"],
    ),
    "web-search-agent": (
        "Real-time information from the web, e.g. restaurants.",
        [{"type": "web_search"}],
        ["food-logging-agent", "daily-progress-agent"],
    ),
    "router-agent": (
        "Routes every user query to one specialist at a time: goals, food logging, "
        "recommendations, daily progress or web search.",
        [],
        [
            "food-logging-agent",
            "goal-setting-agent",
            "food-recommendations-agent",
            "daily-progress-agent",
            "web-search-agent",
        ],
    ),
}


def personas() -> dict[str, Persona]:
    """Personas keyed by id, where an agent's id is its name (handoffs name ids)."""
    return {
        name: Persona(
            id=name,
            name=name,
            model="mistral-medium-2505",
            description=description,
            tools=tuple(tools),
            handoffs=tuple(handoffs),
        )
        for name, (description, tools, handoffs) in ROSTER.items()
    }
