"""The worker's teams, published for `GET /v1/agents` (services/common/teams.py).

At start a worker publishes every team of its files, replacing what was there (a removed file's
team goes), then again every minute: the tools' descriptions come from the servers, which may
answer only later (every few seconds until they do) or change when they are redeployed, and a
Redis that lost its data gets the teams back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from services.common.teams import AgentInfo, McpServerInfo, TeamInfo, ToolInfo, publish_teams
from services.worker.mcp_servers import McpServers
from services.worker.team_files import BUILTIN_TOOLS, HttpServer, Team
from services.worker.team_tools import TeamTool, TeamTools, builtin, list_team_tools

log = logging.getLogger(__name__)

REFRESH_S = 60.0
RETRY_S = 5.0


def team_version(team: Team) -> str:
    """A hash of the team file as read (a changed file, a changed version), wherever it is."""
    return hashlib.sha256(team.model_dump_json(exclude={"source"}).encode()).hexdigest()[:20]


def _unlisted(team: Team) -> list[TeamTool]:
    """The team's tools as its file names them, before its servers answered."""
    refs = dict.fromkeys(ref for spec in team.agents.values() for ref in spec.tools)
    return [
        builtin(ref)
        if ref in BUILTIN_TOOLS
        else TeamTool(ref, ref.partition("/")[0], ref.partition("/")[2], "", None, {})
        for ref in refs
    ]


def describe(
    team: Team, tools: TeamTools | None, default_model: str, wanted: list[str]
) -> TeamInfo:
    """What `GET /v1/agents` says of a team: its tools resolved, or (None) as its file names
    them."""
    listed = tools.all() if tools is not None else _unlisted(team)
    approvals = set(tools.approvals(wanted)) if tools is not None else set()
    return TeamInfo(
        name=team.name,
        description=team.description,
        entry=team.entry,
        version=team_version(team),
        agents=[
            AgentInfo(
                name=spec.name,
                description=spec.description,
                model=team.agent_model(spec, default_model),
                handoffs=list(spec.handoffs),
                tools=[t.name for t in tools.for_agent(spec)] if tools else list(spec.tools),
            )
            for spec in team.agents.values()
        ],
        tools=[
            ToolInfo(
                name=tool.name,
                server=tool.server,
                description=tool.description,
                read_only=tool.read_only,
                needs_approval=tool.name in approvals,
            )
            for tool in listed
        ],
        mcp_servers=[
            McpServerInfo(
                name=name, transport="streamable-http" if isinstance(spec, HttpServer) else "stdio"
            )
            for name, spec in team.mcp_servers.items()
        ],
        tools_listed=tools is not None,
    )


async def team_info(
    team: Team, servers: McpServers, default_model: str, wanted: list[str]
) -> TeamInfo:
    try:
        tools = TeamTools(team, await list_team_tools(team, servers))
    except Exception as exc:  # a server down or broken: the file's names for now
        log.warning("team %s: its tools could not be listed yet (%s)", team.name, exc)
        tools = None
    return describe(team, tools, default_model, wanted)


async def publish_forever(
    redis: Any, servers: McpServers, default_model: str, wanted: list[str]
) -> None:
    while True:
        teams = [await team_info(team, servers, default_model, wanted) for team in servers.teams]
        try:
            await publish_teams(redis, teams)
            published = True
        except Exception as exc:  # Redis away: the next round publishes again
            log.warning("the teams could not be published (%s)", exc)
            published = False
        complete = published and all(team.tools_listed for team in teams)
        await asyncio.sleep(REFRESH_S if complete else RETRY_S)


@contextlib.asynccontextmanager
async def publishing_teams(
    redis: Any, servers: McpServers, default_model: str, wanted: list[str]
) -> AsyncIterator[None]:
    """Publish the teams in the background for as long as the context runs."""
    task = asyncio.create_task(
        publish_forever(redis, servers, default_model, wanted), name="publish-teams"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
