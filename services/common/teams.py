"""The agent teams the workers serve, as `GET /v1/agents` lists them.

Workers resolve their team files (services/worker/team_files.py) and the tools of each team's MCP
servers, and publish what they found in one Redis hash, a field per team, each with the time it
was published. The gateway reads it there, so it needs neither the team files nor the MCP
servers. Nothing in it is secret: no server address, header or environment value.

No worker removes another's teams: workers with different team files (a rolling update that
adds one, two fleets on one Redis) each keep theirs listed, and a team whose file is gone
everywhere drops out once no worker has published it for `TEAM_LEASE_S`.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

TEAMS_KEY = "durable-agents:teams"
# Workers publish every minute (services/worker/catalog.py): a team not published for this long
# has no worker serving it.
TEAM_LEASE_S = 300.0


class ToolInfo(BaseModel):
    name: str = Field(description="The name the agents call it by")
    server: str | None = Field(description="The team's MCP server; null for a Mistral built-in")
    description: str
    read_only: bool | None = Field(
        default=None, description="The server's `readOnlyHint`; null when it gives none"
    )
    needs_approval: bool = Field(
        default=False, description="A call waits for `POST .../approvals/{aid}`"
    )


class AgentInfo(BaseModel):
    name: str
    description: str
    model: str
    handoffs: list[str]
    tools: list[str] = Field(description="Names from the team's `tools`")


class McpServerInfo(BaseModel):
    name: str
    transport: Literal["streamable-http", "stdio"]


class TeamInfo(BaseModel):
    name: str = Field(description='What `POST /v1/sessions {"agent": ...}` names')
    description: str
    entry: str = Field(description="The agent every conversation starts on")
    version: str = Field(
        description="A hash of the team file; a changed file is a new version, and a session "
        "keeps the version it started with"
    )
    agents: list[AgentInfo]
    tools: list[ToolInfo]
    mcp_servers: list[McpServerInfo]
    tools_listed: bool = Field(
        description="false while a server of the team has not answered `list_tools` yet: "
        "`tools` then holds only what the team file names"
    )


class TeamList(BaseModel):
    data: list[TeamInfo]


class PublishedTeam(BaseModel):
    """A field of the hash: the team, and when a worker last published it (Unix seconds)."""

    at: float
    team: TeamInfo


async def publish_teams(redis: Any, teams: list[TeamInfo], *, at: float | None = None) -> None:
    """Write (or refresh) these teams, leaving every other team as it is."""
    stamp = time.time() if at is None else at
    fields = {t.name: PublishedTeam(at=stamp, team=t).model_dump_json() for t in teams}
    if fields:
        await redis.hset(TEAMS_KEY, mapping=fields)


async def read_teams(redis: Any, *, now: float | None = None) -> list[TeamInfo]:
    """The teams some worker published within `TEAM_LEASE_S`, by name; a field that does not
    parse is left out."""
    oldest = (time.time() if now is None else now) - TEAM_LEASE_S
    raw: dict[bytes | str, bytes | str] = await redis.hgetall(TEAMS_KEY)
    teams = []
    for value in raw.values():
        try:
            published = PublishedTeam.model_validate_json(value)
        except ValidationError:
            continue
        if published.at >= oldest:
            teams.append(published.team)
    return sorted(teams, key=lambda team: team.name)
