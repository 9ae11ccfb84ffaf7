"""A team's tools as its agents see them.

Each `server/tool` or `server/*` of a team file is resolved against that server's `list_tools`
and given the name the model calls it by: the MCP tool's own name, or `<server>_<tool>` when two
of the team's servers offer the same name (Mistral allows `[a-zA-Z0-9_-]{1,64}`). The roster
keeps name -> `server/tool`, so a call goes back to the server that offers it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mcp.types import Tool

from services.worker.mcp_servers import McpServers
from services.worker.team_files import BUILTIN_TOOLS, AgentSpec, Team, split_ref

_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_-]")
BUILTIN_DESCRIPTIONS = {
    "web_search": "Mistral's built-in web search",
    "web_search_premium": "Mistral's built-in web search, with news sources",
    "code_interpreter": "Mistral's built-in code interpreter",
    "image_generation": "Mistral's built-in image generation",
}


@dataclass(frozen=True)
class TeamTool:
    name: str  # what the model calls
    server: str | None  # None: a Mistral built-in
    tool: str  # the MCP tool's own name, or the built-in's
    description: str
    read_only: bool | None
    definition: dict[str, Any]  # as Mistral registers it

    @property
    def ref(self) -> str:
        return f"{self.server}/{self.tool}" if self.server else self.tool


def servers_used(team: Team) -> list[str]:
    """The team's servers that its agents take tools from, in file order."""
    used = {split_ref(ref)[0] for spec in team.agents.values() for ref in spec.tools if "/" in ref}
    return [name for name in team.mcp_servers if name in used]


async def list_team_tools(team: Team, servers: McpServers) -> dict[str, list[Tool]]:
    return {name: await servers.list_tools(team.name, name) for name in servers_used(team)}


def _function_name(text: str) -> str:
    return _NOT_IN_NAME.sub("_", text)[:64]


def _mcp_tool(name: str, server: str, tool: Tool) -> TeamTool:
    annotations = tool.annotations
    return TeamTool(
        name=name,
        server=server,
        tool=tool.name,
        description=tool.description or "",
        read_only=annotations.read_only_hint if annotations is not None else None,
        definition={
            "type": "function",
            "function": {
                "name": name,
                "description": tool.description or "",
                "parameters": tool.input_schema,
            },
        },
    )


class TeamTools:
    """Every tool a team's agents name, resolved; LookupError for one its server lacks."""

    def __init__(self, team: Team, listings: dict[str, list[Tool]]) -> None:
        self.team = team
        self.listings = listings
        wanted: dict[tuple[str, str], Tool] = {}
        for spec in team.agents.values():
            for server, tool in self._expand(spec):
                wanted[(server, tool.name)] = tool
        plain: dict[str, list[tuple[str, str]]] = {}
        for key in wanted:
            plain.setdefault(_function_name(key[1]), []).append(key)
        self.by_ref: dict[str, TeamTool] = {}
        for base, keys in plain.items():
            for server, name in keys:
                clash = len(keys) > 1 or base in BUILTIN_TOOLS
                function = _function_name(f"{server}_{name}") if clash else base
                self.by_ref[f"{server}/{name}"] = _mcp_tool(
                    function, server, wanted[(server, name)]
                )

    def _expand(self, spec: AgentSpec) -> list[tuple[str, Tool]]:
        found: list[tuple[str, Tool]] = []
        for ref in spec.tools:
            if "/" not in ref:
                continue
            server, name = split_ref(ref)
            offered = self.listings.get(server, [])
            if name == "*":
                found += [(server, tool) for tool in offered]
                continue
            match = next((tool for tool in offered if tool.name == name), None)
            if match is None:
                raise LookupError(
                    f"{self.team.source}: agents.{spec.name}.tools: the MCP server {server!r} "
                    f"offers no tool named {name!r}"
                )
            found.append((server, match))
        return found

    def for_agent(self, spec: AgentSpec) -> list[TeamTool]:
        tools: list[TeamTool] = []
        for ref in spec.tools:
            if "/" not in ref:
                tools.append(builtin(ref))
                continue
            server, name = split_ref(ref)
            names = [t.name for t in self.listings.get(server, [])] if name == "*" else [name]
            tools += [self.by_ref[f"{server}/{tool}"] for tool in names]
        return tools

    def all(self) -> list[TeamTool]:
        builtins = {
            ref for spec in self.team.agents.values() for ref in spec.tools if "/" not in ref
        }
        return [*self.by_ref.values(), *(builtin(name) for name in sorted(builtins))]

    def routes(self) -> dict[str, str]:
        return {tool.name: tool.ref for tool in self.by_ref.values()}

    def approvals(self, wanted: list[str]) -> list[str]:
        """Names of the tools that wait for approval: the team file's `approval` entries, plus
        `wanted` (APPROVAL_TOOLS: tool names, or `writes` for every tool that may write)."""
        names = set()
        for spec in self.team.agents.values():
            for ref in spec.approval:
                if ref not in self.by_ref:
                    raise LookupError(
                        f"{self.team.source}: agents.{spec.name}.approval: the MCP server "
                        f"{split_ref(ref)[0]!r} offers no tool named {split_ref(ref)[1]!r}"
                    )
                names.add(self.by_ref[ref].name)
        for tool in self.by_ref.values():
            writes = tool.read_only is not True  # MCP's default: a tool may write
            if tool.name in wanted or tool.tool in wanted or ("writes" in wanted and writes):
                names.add(tool.name)
        return sorted(names)


def builtin(name: str) -> TeamTool:
    return TeamTool(
        name=name,
        server=None,
        tool=name,
        description=BUILTIN_DESCRIPTIONS.get(name, "A Mistral built-in tool"),
        read_only=None,
        definition={"type": name},
    )
