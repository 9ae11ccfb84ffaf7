"""`GET /v1/agents` and the team a session names, on a gateway with the real worker behind it:
the worker publishes its team files' teams (services/worker/catalog.py), the gateway lists them
without reaching any MCP server, and `POST /v1/sessions` accepts only those."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
import redis.asyncio as aioredis

from scripts.stack.processes import apoll
from services.common.teams import AgentInfo, TeamInfo, publish_teams
from tests.fixtures.gateway import GatewayServer


@pytest.fixture
async def client(real_gateway: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=real_gateway.url, headers=real_gateway.headers("a"), timeout=30
    ) as http:
        yield http


async def listed(client: httpx2.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/agents")
    assert response.status_code == 200, response.text
    return {team["name"]: team for team in response.json()["data"]}


async def teams_with_tools(client: httpx2.AsyncClient) -> dict[str, dict[str, Any]]:
    """The teams once the worker has listed every server's tools (its first publish may come
    before a server answered)."""
    found: dict[str, dict[str, Any]] = {}

    async def complete() -> bool:
        found.update(await listed(client))
        return all(found.get(name, {}).get("tools_listed") for name in ("nutrisense", "time"))

    assert await apoll(complete, 30), found
    return found


async def test_the_worker_teams_are_listed_with_agents_and_tools(
    client: httpx2.AsyncClient,
) -> None:
    teams = await teams_with_tools(client)
    nutrisense = teams["nutrisense"]
    assert nutrisense["entry"] == "router-agent"
    agents = {agent["name"]: agent for agent in nutrisense["agents"]}
    assert len(agents) == 6
    assert "goal-setting-agent" in agents["daily-progress-agent"]["handoffs"]
    assert agents["food-logging-agent"]["tools"] == ["food_log"]
    tools = {tool["name"]: tool for tool in nutrisense["tools"]}
    assert tools["food_log"]["server"] == "nutrisense"
    assert tools["food_log"]["description"]  # from the MCP server's listing
    assert tools["web_search"]["server"] is None
    assert nutrisense["mcp_servers"] == [{"name": "nutrisense", "transport": "streamable-http"}]

    clock = teams["time"]
    assert clock["agents"][0]["tools"] == ["get_current_time", "convert_time"]
    described = {tool["name"]: tool["description"] for tool in clock["tools"]}
    assert described["get_current_time"] == "Get current time in a specific timezone"
    assert clock["mcp_servers"] == [{"name": "time", "transport": "stdio"}]
    # Nothing of how the servers are reached: no address, header or token.
    text = str(teams)
    assert "http://" not in text
    assert "Bearer" not in text


async def test_a_session_names_a_team_the_workers_serve(
    client: httpx2.AsyncClient,
) -> None:
    await teams_with_tools(client)
    created = await client.post("/v1/sessions", json={"agent": "time"})
    assert created.status_code == 201, created.text
    assert created.json()["agent"] == "time"
    unknown = await client.post("/v1/sessions", json={"agent": "chess"})
    assert unknown.status_code == 422
    problem = unknown.json()
    assert problem["type"] == "urn:durable-agents:problem:unknown-agent"
    assert "'chess'" in problem["detail"]
    assert "nutrisense" in problem["detail"]
    assert "time" in problem["detail"]


async def test_a_newly_published_team_is_offered(
    client: httpx2.AsyncClient, redis_url: str
) -> None:
    team = TeamInfo(
        name="newcomer",
        description="Published by a worker with one more team file.",
        entry="solo",
        version="v1",
        agents=[AgentInfo(name="solo", description="", model="m", handoffs=[], tools=[])],
        tools=[],
        mcp_servers=[],
        tools_listed=True,
    )
    await teams_with_tools(client)  # the worker's first publish (which replaces all) is done
    redis = aioredis.from_url(redis_url)
    try:
        await publish_teams(redis, [team])

        async def offered() -> bool:
            return "newcomer" in await listed(client)

        assert await apoll(offered, 15)  # each gateway process reads again within seconds
        refusals: list[str] = []

        async def accepted() -> bool:  # the other gunicorn process may still read its cache
            created = await client.post("/v1/sessions", json={"agent": "newcomer"})
            if created.status_code != 201:
                refusals.append(created.text)
            return created.status_code == 201

        assert await apoll(accepted, 15), refusals[-1:]
    finally:
        await redis.hdel("durable-agents:teams", "newcomer")
        await redis.aclose()


async def test_the_list_needs_a_key(real_gateway: GatewayServer) -> None:
    async with httpx2.AsyncClient(base_url=real_gateway.url) as anonymous:
        response = await anonymous.get("/v1/agents")
    assert response.status_code == 401
