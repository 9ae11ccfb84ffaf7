"""Every MCP server of the teams a worker serves: ONE session per team's server per process.

A session is opened on first use (mcp_tools.py keeps it, and opens it again once it broke). Its
settings are resolved here, when it opens: `${VAR}` becomes the variable's value only in this
process, so a header's token or an environment secret never reaches activity inputs, workflow
history or events. A stdio server is started with what a command needs to run (the SDK passes
only HOME, LOGNAME, PATH, SHELL, TERM and USER), the worker's virtualenv first on its PATH (so
a server installed as a dependency runs offline), and the team file's `env` over that.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from mcp.client.stdio import StdioServerParameters
from mcp.types import CallToolResult, TextContent, Tool

from services.worker.activity_types import ToolInput
from services.worker.mcp_tools import HttpTransport, McpTools, StdioTransport, Transport
from services.worker.settings import WorkerSettings
from services.worker.team_files import (
    HttpServer,
    Lookup,
    StdioServer,
    Team,
    TeamFileError,
    TeamSet,
    expand,
    load_teams,
    split_ref,
)

# What a command may need from the worker's environment beyond the SDK's minimal set.
PASSED_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
# Sessions started before teams were files name no team: they were all NutriSense's.
LEGACY_TEAM = "nutrisense"


def child_path() -> str:
    """PATH for a stdio server: the worker's virtualenv first, then the worker's own PATH."""
    venv_bin = str(Path(sys.executable).parent)
    rest = [part for part in os.environ.get("PATH", os.defpath).split(os.pathsep) if part]
    return os.pathsep.join([venv_bin, *(part for part in rest if part != venv_bin)])


def stdio_parameters(spec: StdioServer, lookup: Lookup, base: Path) -> StdioServerParameters:
    """The child's command, arguments, environment and directory, `${VAR}` resolved."""
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env["PATH"] = child_path()
    env.update({name: expand(value, lookup) for name, value in spec.env.items()})
    command = expand(spec.command, lookup)
    cwd = base / expand(spec.cwd, lookup) if spec.cwd else None
    found = shutil.which(command, path=env["PATH"]) if os.sep not in command else command
    return StdioServerParameters(
        command=found or command,
        args=[expand(arg, lookup) for arg in spec.args],
        env=env,
        cwd=cwd,
    )


def transport_for(team: Team, server: str, lookup: Lookup, timeout_s: float) -> Transport:
    spec = team.mcp_servers[server]
    if isinstance(spec, HttpServer):
        headers = {name: expand(value, lookup) for name, value in spec.headers.items()}
        return HttpTransport(expand(spec.url, lookup), headers, timeout_s)
    params = stdio_parameters(spec, lookup, Path(team.source).parent)
    return StdioTransport(params, f"stdio:{spec.command} ({team.name}/{server})")


class UnknownTool(LookupError):
    """The model called a function its team does not have."""


class McpServers:
    def __init__(self, teams: TeamSet, lookup: Lookup, *, timeout_s: float = 30.0) -> None:
        self.teams = teams
        self._lookup = lookup
        self._timeout_s = timeout_s
        self._sessions: dict[tuple[str, str], McpTools] = {}

    @classmethod
    def from_settings(cls, settings: WorkerSettings) -> McpServers:
        """The worker's teams (AGENT_TEAMS_DIR), read and checked: TeamFileError if one is bad."""
        teams = load_teams(settings.agent_teams_dir, settings.team_variable)
        servers = cls(teams, settings.team_variable, timeout_s=settings.tool_timeout_s)
        servers.check_commands()
        return servers

    def check_commands(self) -> None:
        """Every stdio server's command can be found: a typo stops the worker at start."""
        for team in self.teams:
            for name, spec in team.mcp_servers.items():
                if not isinstance(spec, StdioServer):
                    continue
                params = stdio_parameters(spec, self._lookup, Path(team.source).parent)
                if os.sep not in params.command:
                    raise TeamFileError(
                        f"{team.source}: mcp_servers.{name}.command: {params.command!r} is "
                        "neither on PATH nor in the worker's virtualenv"
                    )

    def use(self, team: str, server: str, tools: McpTools) -> None:
        """Talk to `team`'s `server` through `tools` (tests hand in a session of their own)."""
        self._sessions[(team, server)] = tools

    def session(self, team: str, server: str) -> McpTools:
        tools = self._sessions.get((team, server))
        if tools is None:
            known = self.teams.get(team)
            if known is None or server not in known.mcp_servers:
                raise LookupError(f"team {team!r} has no MCP server {server!r}")
            transport = transport_for(known, server, self._lookup, self._timeout_s)
            tools = self._sessions[(team, server)] = McpTools(transport=transport)
        return tools

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for tools in sessions:
            await tools.aclose()

    # -- what agents and the catalog need ---------------------------------------------------

    async def list_tools(self, team: str, server: str) -> list[Tool]:
        return await self.session(team, server).list_tools()

    async def prompt_text(self, team: str, ref: str) -> str:
        server, prompt = split_ref(ref)
        return await self.session(team, server).prompt_text(prompt)

    # -- tool calls -------------------------------------------------------------------------

    def route(self, request: ToolInput) -> tuple[str, str, str]:
        """(team, server, MCP tool) of a function call; UnknownTool for a name the session's
        team does not have. A session started before teams were files names neither team nor
        tool: NutriSense, whose one server has the function's name."""
        if request.tool:
            server, tool = split_ref(request.tool)
            return request.team or LEGACY_TEAM, server, tool
        if request.team is not None:
            raise UnknownTool(f"there is no tool named {request.call.name!r}")
        team = LEGACY_TEAM
        known = self.teams.get(team)
        servers = list(known.mcp_servers) if known is not None else []
        if len(servers) != 1:
            raise LookupError(f"no MCP server of team {team!r} is known for {request.call.name}")
        return team, servers[0], request.call.name

    def label(self, request: ToolInput) -> str:
        """The server a call goes to, as messages name it (no secrets)."""
        try:
            team, server, _ = self.route(request)
            return self.session(team, server).url
        except LookupError:
            return f"(no server for {request.call.name})"

    async def call_tool(
        self, request: ToolInput, arguments: dict[str, Any], meta: dict[str, Any], timeout_s: float
    ) -> CallToolResult:
        """The call's result; a name the team has no tool for is an error result the model
        reads (it made the name up), not a failure to retry."""
        try:
            team, server, tool = self.route(request)
        except UnknownTool as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
        return await self.session(team, server).call_tool(tool, arguments, meta, timeout_s)
