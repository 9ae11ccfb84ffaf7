"""Who answers: an agent (or, in a model conversation, the bare model) as behaviour sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.mistral_sim.store import AgentRecord, Conversation

WEB_SEARCH_TOOLS = ("web_search", "web_search_premium")


@dataclass(frozen=True)
class Persona:
    id: str | None  # None for a model conversation: its outputs carry `model`, not `agent_id`
    name: str
    model: str
    description: str = ""
    instructions: str = ""
    tools: tuple[dict[str, Any], ...] = ()
    handoffs: tuple[str, ...] = field(default=())
    # Sampling and output options; `response_format` shapes the agent's answers.
    completion_args: dict[str, Any] = field(default_factory=dict)

    @property
    def function_tools(self) -> list[dict[str, Any]]:
        return [
            tool["function"]
            for tool in self.tools
            if tool.get("type") == "function" and isinstance(tool.get("function"), dict)
        ]

    @property
    def web_search_tool(self) -> str | None:
        for tool in self.tools:
            if tool.get("type") in WEB_SEARCH_TOOLS:
                return str(tool["type"])
        return None

    @property
    def has_tools(self) -> bool:
        return bool(self.function_tools) or self.web_search_tool is not None

    def stamp(self) -> dict[str, Any]:
        """The author fields an output entry or event carries."""
        return {"agent_id": self.id} if self.id is not None else {"model": self.model}


def persona_of_agent(record: AgentRecord, version: int | None = None) -> Persona:
    config = record.config(version)
    return Persona(
        id=record.id,
        name=str(config.get("name") or record.id),
        model=str(config.get("model") or "mistral-medium-latest"),
        description=str(config.get("description") or ""),
        instructions=str(config.get("instructions") or ""),
        tools=tuple(config.get("tools") or ()),
        handoffs=tuple(config.get("handoffs") or ()),
        completion_args=dict(config.get("completion_args") or {}),
    )


def persona_of_model(conversation: Conversation) -> Persona:
    model = conversation.model or "mistral-medium-latest"
    return Persona(
        id=None,
        name=model,
        model=model,
        instructions=conversation.instructions or "",
        tools=tuple(conversation.tools),
        completion_args=dict(conversation.completion_args or {}),
    )
