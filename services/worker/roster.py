"""The NutriSense agent team, declared in one place (shared/reference/nutrisense.md).

The roster says who the agents are, which MCP prompt gives each its instructions, which MCP tools
(or Mistral built-ins) each may use and to whom each may hand off. Registration on Mistral is
keyed by name plus a hash of the resolved spec (see agents.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BUILTIN_TOOLS = frozenset({"web_search", "web_search_premium", "code_interpreter"})


@dataclass(frozen=True)
class AgentSpec:
    name: str
    description: str
    prompt: str  # MCP prompt whose text becomes the instructions
    tools: tuple[str, ...] = ()  # MCP tool names, or Mistral built-ins (BUILTIN_TOOLS)
    handoffs: tuple[str, ...] = ()  # agent names


@dataclass(frozen=True)
class Team:
    name: str
    entry: str  # the agent every conversation starts on
    agents: tuple[AgentSpec, ...] = field(default_factory=tuple)

    def agent(self, name: str) -> AgentSpec:
        for spec in self.agents:
            if spec.name == name:
                return spec
        raise KeyError(name)


NUTRISENSE = Team(
    name="nutrisense",
    entry="router-agent",
    agents=(
        AgentSpec(
            "router-agent",
            "Routes every user query to the one specialist that fits it.",
            prompt="router",
            handoffs=(
                "food-logging-agent",
                "goal-setting-agent",
                "food-recommendations-agent",
                "daily-progress-agent",
                "web-search-agent",
            ),
        ),
        AgentSpec(
            "goal-setting-agent",
            "Sets or updates the user's daily nutrition goals: calories, protein, carbs, fat.",
            prompt="goal-setting",
            tools=("goal_setting",),
            handoffs=(
                "food-logging-agent",
                "food-recommendations-agent",
                "daily-progress-agent",
                "web-search-agent",
            ),
        ),
        AgentSpec(
            "food-logging-agent",
            "Logs the foods the user ate or had, with quantities, for a meal.",
            prompt="food-logging",
            tools=("food_log",),
            handoffs=("food-recommendations-agent", "daily-progress-agent", "web-search-agent"),
        ),
        AgentSpec(
            "food-recommendations-agent",
            "Recommends and suggests meals for dinner, lunch or breakfast within the goals.",
            prompt="food-recommendations",
            tools=("food_recommendations",),
            handoffs=("daily-progress-agent", "web-search-agent"),
        ),
        AgentSpec(
            "daily-progress-agent",
            "Reports the progress so far today against the goals, with nutrition analysis.",
            prompt="daily-progress",
            tools=("daily_progress",),
            handoffs=("food-recommendations-agent", "food-logging-agent"),
        ),
        AgentSpec(
            "web-search-agent",
            "Searches the web for real-time information such as restaurants nearby.",
            prompt="web-search",
            tools=("web_search",),
            handoffs=("food-logging-agent", "daily-progress-agent"),
        ),
    ),
)

TEAMS = {NUTRISENSE.name: NUTRISENSE}
