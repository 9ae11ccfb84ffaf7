"""In-memory state: agents with their versions and aliases, conversations with their entries."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from services.mistral_sim import errors
from services.mistral_sim.ids import new_id, now_iso

# Fields of an agent that a version snapshots (everything a PATCH may change).
AGENT_CONFIG_FIELDS = (
    "model",
    "name",
    "instructions",
    "tools",
    "completion_args",
    "guardrails",
    "description",
    "handoffs",
    "deployment_chat",
    "metadata",
    "version_message",
)


@dataclass
class AgentRecord:
    id: str
    created_at: str
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    version_times: dict[int, str] = field(default_factory=dict)
    active_version: int = 0
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)

    def config(self, version: int | None = None) -> dict[str, Any]:
        return self.versions[self.active_version if version is None else version]

    def to_wire(self, version: int | None = None) -> dict[str, Any]:
        """The `Agent` object with every field the SDK requires (reference §3.1)."""
        number = self.active_version if version is None else version
        config = self.versions[number]
        return {
            "object": "agent",
            "id": self.id,
            **{name: copy.deepcopy(config.get(name)) for name in AGENT_CONFIG_FIELDS},
            "tools": copy.deepcopy(config.get("tools") or []),
            "completion_args": copy.deepcopy(config.get("completion_args") or {}),
            "deployment_chat": bool(config.get("deployment_chat")),
            "version": number,
            "versions": sorted(self.versions),
            "created_at": self.created_at,
            "updated_at": self.version_times[number],
            "source": "api",
            "owner_id": None,
        }

    def resolve_version(self, version: int | str | None) -> int:
        """An int, a numeric string, or an alias name; unknown ones are a 404."""
        if version is None:
            return self.active_version
        if isinstance(version, int) or version.lstrip("-").isdigit():
            number = int(version)
            if number in self.versions:
                return number
        elif version in self.aliases:
            return int(self.aliases[version]["version"])
        raise errors.not_found("Agent version", f"{self.id}@{version}")


@dataclass
class Conversation:
    id: str
    created_at: str
    updated_at: str
    agent_id: str | None = None
    agent_version: int | str | None = None
    model: str | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    completion_args: dict[str, Any] = field(default_factory=dict)
    guardrails: list[dict[str, Any]] | None = None
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    # The agent that answered last: it answers the next append (handoffs move it).
    active_agent_id: str | None = None
    stored: bool = True
    busy: bool = False

    def to_wire(self) -> dict[str, Any]:
        common = {
            "object": "conversation",
            "id": self.id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "name": self.name,
            "description": self.description,
            "metadata": copy.deepcopy(self.metadata),
        }
        if self.agent_id is not None:
            return {**common, "agent_id": self.agent_id, "agent_version": self.agent_version}
        return {
            **common,
            "model": self.model,
            "instructions": self.instructions,
            "tools": copy.deepcopy(self.tools),
            "completion_args": copy.deepcopy(self.completion_args),
            "guardrails": copy.deepcopy(self.guardrails),
        }

    def find_entry(self, entry_id: str) -> int:
        for index, entry in enumerate(self.entries):
            if entry.get("id") == entry_id:
                return index
        raise errors.not_found("Entry", entry_id)


def metadata_matches(actual: dict[str, Any] | None, wanted: dict[str, Any] | None) -> bool:
    if not wanted:
        return True
    actual = actual or {}
    return all(actual.get(key) == value for key, value in wanted.items())


class Store:
    def __init__(self) -> None:
        self.agents: dict[str, AgentRecord] = {}
        self.conversations: dict[str, Conversation] = {}
        # Turns still generating, so shutdown can cancel them and tests can wait for them.
        self.running: set[asyncio.Task[None]] = set()

    # --- agents ---------------------------------------------------------------------------

    def create_agent(self, config: dict[str, Any]) -> AgentRecord:
        stamp = now_iso()
        record = AgentRecord(id=new_id("ag"), created_at=stamp)
        record.versions[0] = {**config, "deployment_chat": config.get("deployment_chat", False)}
        record.version_times[0] = stamp
        self.agents[record.id] = record
        return record

    def agent(self, agent_id: str) -> AgentRecord:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise errors.not_found("Agent", agent_id) from None

    def update_agent(self, agent_id: str, changes: dict[str, Any]) -> AgentRecord:
        """Every PATCH makes a new version from the active one and activates it."""
        record = self.agent(agent_id)
        number = max(record.versions) + 1
        record.versions[number] = {**copy.deepcopy(record.config()), **changes}
        record.version_times[number] = now_iso()
        record.active_version = number
        return record

    def delete_agent(self, agent_id: str) -> None:
        self.agent(agent_id)
        del self.agents[agent_id]

    # --- conversations --------------------------------------------------------------------

    def add_conversation(self, conversation: Conversation) -> Conversation:
        self.conversations[conversation.id] = conversation
        return conversation

    def conversation(self, conversation_id: str) -> Conversation:
        found = self.conversations.get(conversation_id)
        if found is None or not found.stored:
            raise errors.not_found("Conversation", conversation_id)
        return found

    def delete_conversation(self, conversation_id: str) -> None:
        self.conversation(conversation_id)
        del self.conversations[conversation_id]

    def listed_conversations(self) -> list[Conversation]:
        """Newest first, like the console; only stored ones."""
        stored = [conv for conv in self.conversations.values() if conv.stored]
        return sorted(stored, key=lambda conv: (conv.created_at, conv.id), reverse=True)
