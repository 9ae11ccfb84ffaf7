"""What the worker discovers at run time: tools (names, schemas, annotations) and prompts."""

from __future__ import annotations

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.fixtures.mcp_server import McpServerProcess
from tests.integration.mcp_server.mcp_client import User, data_of, mcp_session

USER_QUERY_SCHEMA = {
    "type": "object",
    "properties": {"user_query": {"type": "string"}},
    "required": ["user_query"],
}
AGENT_PROMPTS = [
    "router",
    "goal-setting",
    "food-logging",
    "food-recommendations",
    "daily-progress",
    "web-search",
]


async def test_tools_have_the_agents_names_schema_and_annotations(
    mcp_server: McpServerProcess,
) -> None:
    async with mcp_session(mcp_server.url) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert sorted(tools) == ["daily_progress", "food_log", "food_recommendations", "goal_setting"]
    for tool in tools.values():
        assert tool.input_schema == USER_QUERY_SCHEMA
        assert len(tool.description or "") > 80
        assert "\n    " not in (tool.description or "")  # no docstring indentation
        assert tool.output_schema is not None  # structuredContent is typed
        assert tool.annotations is not None
        assert tool.annotations.open_world_hint is False
    for name in ("daily_progress", "food_recommendations"):
        assert tools[name].annotations.read_only_hint is True  # type: ignore[union-attr]
    food_log = tools["food_log"].annotations
    assert food_log is not None
    assert (food_log.read_only_hint, food_log.destructive_hint) == (False, False)
    goal_setting = tools["goal_setting"].annotations
    assert goal_setting is not None
    assert (goal_setting.read_only_hint, goal_setting.destructive_hint) == (False, True)
    assert goal_setting.idempotent_hint is True


async def test_every_agent_has_its_instructions_as_a_prompt(mcp_server: McpServerProcess) -> None:
    async with mcp_session(mcp_server.url) as session:
        listed = [prompt.name for prompt in (await session.list_prompts()).prompts]
        texts = {}
        for name in AGENT_PROMPTS:
            prompt = await session.get_prompt(name)
            texts[name] = prompt.messages[0].content.text  # type: ignore[union-attr]

    assert sorted(listed) == sorted(AGENT_PROMPTS)
    assert "hand" in texts["router"].lower()
    for name, tool in [("goal-setting", "goal_setting"), ("food-logging", "food_log")]:
        assert tool in texts[name]
    assert "food_recommendations" in texts["food-recommendations"]
    assert "daily_progress" in texts["daily-progress"]
    assert "web search" in texts["web-search"].lower()
    assert all("brief" in text.lower() for text in texts.values())


async def test_health_and_host_names(mcp_server: McpServerProcess) -> None:
    """Compose reaches the server as `mcp:9000`: that Host passes; an unknown one gets 421."""
    async with httpx2.AsyncClient(
        base_url=mcp_server.base_url, headers=mcp_server.auth_headers
    ) as http:
        health = await http.get("/healthz")
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers = {"accept": "application/json, text/event-stream"}
        as_service = await http.post("/mcp", json=ping, headers={**headers, "host": "mcp:9000"})
        as_stranger = await http.post(
            "/mcp", json=ping, headers={**headers, "host": "evil.example"}
        )

    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert as_service.status_code != 421
    assert as_stranger.status_code == 421


async def test_the_modern_protocol_client_works_too(mcp_server: McpServerProcess) -> None:
    """`mcp.Client` negotiates the 2026-07-28 protocol (no initialize handshake)."""
    user = User.fresh()
    async with (
        httpx2.AsyncClient(headers=mcp_server.auth_headers) as http,
        Client(streamable_http_client(mcp_server.url, http_client=http)) as client,
    ):
        version = client.protocol_version
        tools = await client.list_tools()
        result = await client.call_tool("food_log", {"user_query": "1 apple"}, meta=user.meta())
    assert version >= "2026-07-28"
    assert len(tools.tools) == 4
    assert data_of(result)["items"][0]["food"] == "apple"
