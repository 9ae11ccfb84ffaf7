"""A team's tools as the model sees them (services/worker/team_tools.py), how a call finds its
server again (mcp_servers.py), and what `GET /v1/agents` says of a team (catalog.py)."""

from __future__ import annotations

import pytest
from mcp.types import Tool, ToolAnnotations

from services.worker.activity_types import FunctionCall, StepContext, ToolInput
from services.worker.catalog import describe
from services.worker.mcp_servers import McpServers, UnknownTool
from services.worker.team_files import Team, TeamSet, parse_team
from services.worker.team_tools import TeamTools

TEAM = """
name: office
entry: desk
mcp_servers:
  mail: {command: mail-server}
  files: {command: files-server}
agents:
  desk:
    instructions: Help.
    tools: [mail/*, files/search, web_search]
    approval: [mail/send]
    handoffs: [archive]
  archive:
    description: Finds and deletes files.
    instructions: Archive.
    tools: [files/*]
"""
NO_ENV: dict[str, str] = {}
SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}


def tool(name: str, read_only: bool | None = None) -> Tool:
    annotations = ToolAnnotations(read_only_hint=read_only) if read_only is not None else None
    return Tool(name=name, description=f"does {name}", input_schema=SCHEMA, annotations=annotations)


LISTINGS = {
    "mail": [tool("search", read_only=True), tool("send"), tool("read.thread", read_only=True)],
    "files": [tool("search", read_only=True), tool("delete")],
}


def office() -> Team:
    return parse_team(TEAM, "teams/office.yaml", NO_ENV.get)


def test_clashing_names_get_their_server_and_names_fit_mistral() -> None:
    tools = TeamTools(office(), LISTINGS)
    assert tools.routes() == {
        "mail_search": "mail/search",
        "files_search": "files/search",
        "send": "mail/send",
        "read_thread": "mail/read.thread",
        "delete": "files/delete",
    }
    desk = [t.name for t in tools.for_agent(office().agent("desk"))]
    assert desk == ["mail_search", "send", "read_thread", "files_search", "web_search"]
    archive = tools.for_agent(office().agent("archive"))
    assert [t.definition["function"]["name"] for t in archive] == ["files_search", "delete"]


def test_approvals_come_from_the_file_and_the_workers_setting() -> None:
    tools = TeamTools(office(), LISTINGS)
    assert tools.approvals([]) == ["send"]
    assert tools.approvals(["delete"]) == ["delete", "send"]
    assert tools.approvals(["writes"]) == ["delete", "send"]  # not read-only: may write


def test_a_tool_the_server_does_not_offer() -> None:
    listings = {**LISTINGS, "files": [tool("delete")]}
    with pytest.raises(LookupError, match="the MCP server 'files' offers no tool named 'search'"):
        TeamTools(office(), listings)


def test_a_call_goes_to_the_server_the_roster_names() -> None:
    nutrisense = parse_team(
        "name: nutrisense\nentry: a\nmcp_servers: {n: {url: u}}\n"
        "agents: {a: {instructions: hi, tools: [n/*]}}\n",
        "t.yaml",
        NO_ENV.get,
    )
    servers = McpServers(TeamSet([office(), nutrisense]), NO_ENV.get)
    context = StepContext("k", "s", "turn_1", 0)
    call = FunctionCall("c1", "files_search", "{}")
    routed = ToolInput(context, call, "t1", "u1", team="office", tool="files/search")
    assert servers.route(routed) == ("office", "files", "search")
    made_up = ToolInput(context, FunctionCall("c3", "teleport", "{}"), "t1", "u1", team="office")
    with pytest.raises(UnknownTool):
        servers.route(made_up)
    # A session from before teams were files names neither: NutriSense's one server.
    legacy = ToolInput(context, FunctionCall("c2", "food_log", "{}"), "t1", "u1")
    assert servers.route(legacy) == ("nutrisense", "n", "food_log")


def test_the_catalog_lists_agents_tools_and_servers_without_secrets() -> None:
    team = office()
    info = describe(team, TeamTools(team, LISTINGS), "mistral-medium-2505", [])
    assert info.tools_listed
    assert [a.name for a in info.agents] == ["desk", "archive"]
    assert info.agents[1].tools == ["files_search", "delete"]
    by_name = {t.name: t for t in info.tools}
    assert by_name["send"].needs_approval
    assert by_name["send"].server == "mail"
    assert by_name["web_search"].server is None
    assert by_name["files_search"].description == "does search"
    assert {s.transport for s in info.mcp_servers} == {"stdio"}
    assert "mail-server" not in info.model_dump_json()  # no command, address or header


def test_before_the_servers_answer_the_catalog_names_what_the_file_says() -> None:
    info = describe(office(), None, "m", [])
    assert not info.tools_listed
    assert info.agents[0].tools == ["mail/*", "files/search", "web_search"]
    assert info.version == describe(office(), None, "m", []).version
    changed = office().model_copy(update={"description": "another"})
    assert describe(changed, None, "m", []).version != info.version
