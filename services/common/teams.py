"""The agent teams the workers serve, as `GET /v1/agents` lists them.

Workers resolve their team files (services/worker/roster.py) and the tools of each team's MCP
servers, and publish what they found in one Redis hash, a field per team. The gateway reads it
there, so it needs neither the team files nor the MCP servers. Nothing in it is secret: no
server address, header or environment value.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

TEAMS_KEY = "durable-agents:teams"


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


async def publish_teams(redis: Any, teams: list[TeamInfo], *, replace: bool) -> None:
    """Write these teams; with `replace`, the hash holds only them afterwards (a worker's
    start: teams whose file was removed go)."""
    fields = {team.name: team.model_dump_json() for team in teams}
    async with redis.pipeline(transaction=True) as pipe:
        if replace:
            pipe.delete(TEAMS_KEY)
        if fields:
            pipe.hset(TEAMS_KEY, mapping=fields)
        await pipe.execute()


async def read_teams(redis: Any) -> list[TeamInfo]:
    """The published teams by name; a field that no longer parses is left out."""
    raw: dict[bytes | str, bytes | str] = await redis.hgetall(TEAMS_KEY)
    teams = []
    for value in raw.values():
        try:
            teams.append(TeamInfo.model_validate_json(value))
        except ValidationError:
            continue
    return sorted(teams, key=lambda team: team.name)
