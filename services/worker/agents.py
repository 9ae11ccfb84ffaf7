"""Registering a team on Mistral, idempotently.

Each agent's spec is resolved at run time (instructions from its MCP prompt and the team file,
function tools from its servers' `list_tools`: team_tools.py) and hashed; the hash lives in the
agent's metadata. An agent whose hash matches is left alone; a changed spec updates it (Mistral
makes a new version); a missing one is created.
Handoffs need the other agents' ids, so they are set in a second pass, together with the hash,
which therefore only lands once an agent is complete. Concurrency is handled by the caller: the
roster workflow runs this for one team at a time (see roster_workflow.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mistralai.client import Mistral
from mistralai.client import models as m

from services.worker.activity_types import AgentRef, Roster
from services.worker.mcp_servers import McpServers
from services.worker.team_files import AgentSpec, Team
from services.worker.team_tools import TeamTools, list_team_tools

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


async def instructions_of(spec: AgentSpec, team: Team, servers: McpServers) -> str:
    """The MCP prompt's text, the inline instructions, or the prompt's text followed by them."""
    parts = []
    if spec.prompt is not None:
        parts.append(await servers.prompt_text(team.name, spec.prompt))
    if spec.instructions is not None:
        parts.append(spec.instructions.strip())
    return "\n\n".join(parts)


async def resolve_team(
    team: Team, servers: McpServers, model: str, tools: TeamTools
) -> list[ResolvedAgent]:
    resolved = []
    for spec in team.agents.values():
        instructions = await instructions_of(spec, team, servers)
        definitions = [tool.definition for tool in tools.for_agent(spec)]
        resolved.append(
            ResolvedAgent(spec, team.agent_model(spec, model), instructions, definitions)
        )
    return resolved


async def existing_agents(client: Mistral, team: Team) -> dict[str, m.Agent]:
    """The team's agents already on Mistral, by name (the newest when names repeat). An agent
    of the same name that another team registered is not this team's."""
    names = set(team.agents)
    found: dict[str, m.Agent] = {}
    token: str | None = None
    while True:
        response = await client.beta.agents.list_pages_async(page_size=100, page_token=token)
        if response is None:
            return found
        page = response.result
        for agent in page.data:
            owner = (agent.metadata or {}).get(METADATA_TEAM)
            if agent.name in names and owner in (None, team.name):
                current = found.get(agent.name)
                if current is None or agent.created_at > current.created_at:
                    found[agent.name] = agent
        token = page.next_page_token if isinstance(page.next_page_token, str) else None
        if not token or not page.data:
            return found


async def register_team(
    client: Mistral, servers: McpServers, team: Team, model: str, wanted_approvals: list[str]
) -> Roster:
    """Create or update the team's agents; `model` is the default of agents whose file names
    none, `wanted_approvals` the worker's APPROVAL_TOOLS."""
    tools = TeamTools(team, await list_team_tools(team, servers))
    resolved = await resolve_team(team, servers, model, tools)
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
    approvals = tools.approvals(wanted_approvals)
    routes = tools.routes()
    # A new version whenever what the agents are or what a call does changes.
    canonical = json.dumps([[a.spec_hash for a in resolved], approvals, routes], sort_keys=True)
    return Roster(
        team=team.name,
        entry=next(ref for ref in refs if ref.name == team.entry),
        agents=refs,
        spec_hash=hashlib.sha256(canonical.encode()).hexdigest()[:20],
        approval_tools=approvals,
        tools=routes,
    )
