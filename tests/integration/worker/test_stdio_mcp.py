"""MCP servers over stdio (services/worker/mcp_servers.py): the worker starts the command on
first use, keeps ONE session with it, passes it what it needs and the team file's `env` (not the
worker's environment), and starts it again after it died."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from scripts.stack.processes import apoll
from services.worker.activity_types import FunctionCall, StepContext, ToolInput
from services.worker.catalog import team_info
from services.worker.mcp_servers import McpServers
from services.worker.mcp_tools import McpUnavailable
from services.worker.settings import DEFAULT_TEAMS_DIR
from services.worker.team_files import TeamSet, load_teams, parse_team
from services.worker.team_tools import TeamTools, list_team_tools

SERVER = Path(__file__).with_name("stdio_server.py")
WORKER_ENV = {"WORKER_GREETING": "hello from the team file", "WORKER_ONLY_SECRET": "do-not-pass"}
TEAM = f"""
name: probe
entry: probe-agent
mcp_servers:
  probe:
    command: python
    args: ["{SERVER}"]
    env: {{GREETING: "${{WORKER_GREETING}}"}}
agents:
  probe-agent:
    prompt: probe/intro
    instructions: Be brief.
    tools: [probe/*]
"""


def call(team: str, tool: str, arguments: dict[str, Any] | None = None) -> ToolInput:
    context = StepContext(bus_key="unused", session_id="s", turn_id="turn_1", step=0)
    function = FunctionCall("call_1", tool.split("/")[-1], json.dumps(arguments or {}))
    return ToolInput(context, function, tenant_id="t1", user_id="u1", team=team, tool=tool)


async def run(servers: McpServers, team: str, tool: str, **arguments: Any) -> Any:
    result = await servers.call_tool(call(team, tool, arguments), arguments, {}, 10)
    assert not result.is_error, result
    return (result.structured_content or {}).get("result", result.structured_content)


@pytest.fixture
async def probe(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[McpServers]:
    for name, value in WORKER_ENV.items():
        monkeypatch.setenv(name, value)
    team = parse_team(TEAM, str(SERVER.with_name("probe.yaml")), os.environ.get)
    servers = McpServers(TeamSet([team]), os.environ.get, timeout_s=10)
    servers.check_commands()
    try:
        yield servers
    finally:
        await servers.aclose()


async def test_the_command_starts_once_and_gets_the_team_env_not_the_workers(
    probe: McpServers,
) -> None:
    pids = {await run(probe, "probe", "probe/pid") for _ in range(3)}
    assert len(pids) == 1  # one process, one session, for every call
    assert await run(probe, "probe", "probe/env", name="GREETING") == WORKER_ENV["WORKER_GREETING"]
    assert await run(probe, "probe", "probe/env", name="WORKER_ONLY_SECRET") is None
    path = await run(probe, "probe", "probe/env", name="PATH")
    assert path.split(os.pathsep)[0] == str(Path(sys.executable).parent)  # the venv first
    assert await probe.prompt_text("probe", "probe/intro") == (
        "You answer from the stdio test server."
    )


async def test_a_tool_the_team_lacks_is_an_error_result_the_model_reads(
    probe: McpServers,
) -> None:
    made_up = call("probe", "probe/pid")
    made_up.tool = None  # the model called a name no tool of the team has
    result = await probe.call_tool(made_up, {}, {}, 10)
    assert result.is_error
    assert "there is no tool named 'pid'" in str(result.content)


async def test_a_server_that_died_is_started_again(probe: McpServers) -> None:
    first = await run(probe, "probe", "probe/pid")
    os.kill(first, signal.SIGKILL)

    async def restarted() -> bool:
        try:
            return bool(await run(probe, "probe", "probe/pid") != first)
        except McpUnavailable:  # the call that found the session broken
            return False

    assert await apoll(restarted, 10)


async def test_a_call_in_flight_when_the_server_dies_fails_at_once(
    probe: McpServers, tmp_path: Path
) -> None:
    pid = await run(probe, "probe", "probe/pid")
    started = tmp_path / "started"
    arguments = {"started": str(started)}
    task = asyncio.create_task(probe.call_tool(call("probe", "probe/hang"), arguments, {}, 30))

    async def running() -> bool:
        return started.exists()

    assert await apoll(running, 10)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(McpUnavailable):
        await asyncio.wait_for(task, 5)
    assert await run(probe, "probe", "probe/pid") != pid


async def test_the_time_team_runs_the_reference_server_from_the_venv() -> None:
    teams = load_teams(DEFAULT_TEAMS_DIR, {"MCP_SERVER_URL": "u", "MCP_AUTH_TOKEN": "t"}.get)
    time_team = teams.get("time")
    assert time_team is not None
    servers = McpServers(TeamSet([time_team]), os.environ.get, timeout_s=10)
    servers.check_commands()
    try:
        tools = TeamTools(time_team, await list_team_tools(time_team, servers))
        assert sorted(tools.routes()) == ["convert_time", "get_current_time"]
        result = await servers.call_tool(
            call("time", "time/get_current_time"), {"timezone": "Asia/Tokyo"}, {}, 10
        )
        info = await team_info(time_team, servers, "m", [])
    finally:
        await servers.aclose()
    now = result.structured_content or {}
    assert now["timezone"] == "Asia/Tokyo"
    assert now["datetime"].endswith("+09:00")
    assert info.tools_listed
    assert {t.name: t.read_only for t in info.tools} == {
        "get_current_time": True,
        "convert_time": True,
    }
    assert info.mcp_servers[0].transport == "stdio"
