"""Registering a team on Mistral, idempotently.

Each agent's spec is resolved at run time (instructions from its MCP prompt, function tools from
MCP `list_tools`) and hashed; the hash lives in the agent's metadata. An agent whose hash matches
is left alone; a changed spec updates it (Mistral makes a new version); a missing one is created.
Handoffs need the other agents' ids, so they are set in a second pass, together with the hash,
which therefore only lands once an agent is complete. Concurrency is handled by the caller: the
roster workflow runs this for one team at a time (see roster_workflow.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mcp.types import Tool
from mistralai.client import Mistral
from mistralai.client import models as m

from services.worker.mcp_tools import McpTools
from services.worker.roster import BUILTIN_TOOLS, AgentSpec, Team
from services.worker.steps import AgentRef, Roster

METADATA_TEAM = "durable_agents_team"
METADATA_HASH = "durable_agents_spec"


@dataclass
class ResolvedAgent:
    spec: AgentSpec
    model: str
    instructions: str
    tools: list[dict[str, Any]]

    @property
    def spec_hash(self) -> str:
        canonical = json.dumps(
            {
                "name": self.spec.name,
                "description": self.spec.description,
                "model": self.model,
                "instructions": self.instructions,
                "tools": self.tools,
                "handoffs": list(self.spec.handoffs),
            },
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def tool_definition(name: str, mcp_tools: dict[str, Tool]) -> dict[str, Any]:
    if name in BUILTIN_TOOLS:
        return {"type": name}
    tool = mcp_tools.get(name)
    if tool is None:
        raise LookupError(f"the MCP server offers no tool named {name!r}")
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description or "",
            "parameters": tool.input_schema,
        },
    }


async def resolve_team(
    team: Team, mcp: McpTools, model: str, mcp_tools: dict[str, Tool]
) -> list[ResolvedAgent]:
    resolved = []
    for spec in team.agents:
        instructions = await mcp.prompt_text(spec.prompt)
        tools = [tool_definition(name, mcp_tools) for name in spec.tools]
        resolved.append(ResolvedAgent(spec, model, instructions, tools))
    return resolved


def approval_tools(team: Team, wanted: list[str], mcp_tools: dict[str, Tool]) -> list[str]:
    """The team's MCP tools that need approval: named ones, or every writing one for "writes"."""
    names = {name for spec in team.agents for name in spec.tools if name not in BUILTIN_TOOLS}
    if "writes" in wanted:
        return sorted(name for name in names if name in mcp_tools and writes(mcp_tools[name]))
    return sorted(names & set(wanted))


def writes(tool: Tool) -> bool:
    """MCP's default for a tool without annotations is "may write"."""
    return not (tool.annotations is not None and tool.annotations.read_only_hint)


async def existing_agents(client: Mistral, team: Team) -> dict[str, m.Agent]:
    """The team's agents already on Mistral, by name (the newest when names repeat)."""
    names = {spec.name for spec in team.agents}
    found: dict[str, m.Agent] = {}
    token: str | None = None
    while True:
        response = await client.beta.agents.list_pages_async(page_size=100, page_token=token)
        if response is None:
            return found
        page = response.result
        for agent in page.data:
            if agent.name in names:
                current = found.get(agent.name)
                if current is None or agent.created_at > current.created_at:
                    found[agent.name] = agent
        token = page.next_page_token if isinstance(page.next_page_token, str) else None
        if not token or not page.data:
            return found


async def register_team(
    client: Mistral, mcp: McpTools, team: Team, model: str, wanted_approvals: list[str]
) -> Roster:
    mcp_tools = {tool.name: tool for tool in await mcp.list_tools()}
    resolved = await resolve_team(team, mcp, model, mcp_tools)
    current = await existing_agents(client, team)
    ids: dict[str, str] = {}
    stale: list[ResolvedAgent] = []
    versions: dict[str, int | None] = {}
    for agent in resolved:
        existing = current.get(agent.spec.name)
        metadata = dict(existing.metadata or {}) if existing is not None else {}
        if existing is not None and metadata.get(METADATA_HASH) == agent.spec_hash:
            ids[agent.spec.name] = existing.id
            versions[agent.spec.name] = existing.version
            continue
        fields: dict[str, Any] = {
            "model": agent.model,
            "name": agent.spec.name,
            "description": agent.spec.description,
            "instructions": agent.instructions,
            "tools": agent.tools,
            "metadata": {METADATA_TEAM: team.name},
        }
        if existing is None:
            created = await client.beta.agents.create_async(**fields)
            ids[agent.spec.name] = created.id
        else:
            await client.beta.agents.update_async(agent_id=existing.id, **fields)
            ids[agent.spec.name] = existing.id
        stale.append(agent)
    for agent in stale:
        updated = await client.beta.agents.update_async(
            agent_id=ids[agent.spec.name],
            handoffs=[ids[name] for name in agent.spec.handoffs],
            metadata={METADATA_TEAM: team.name, METADATA_HASH: agent.spec_hash},
        )
        versions[agent.spec.name] = updated.version
    refs = [AgentRef(a.spec.name, ids[a.spec.name], versions.get(a.spec.name)) for a in resolved]
    team_hash = hashlib.sha256("".join(a.spec_hash for a in resolved).encode()).hexdigest()[:20]
    return Roster(
        team=team.name,
        entry=next(ref for ref in refs if ref.name == team.entry),
        agents=refs,
        spec_hash=team_hash,
        approval_tools=approval_tools(team, wanted_approvals, mcp_tools),
    )
