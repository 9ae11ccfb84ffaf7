"""The agent team is registered once per Mistral endpoint, idempotently, and versioned."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mistralai.client import Mistral
from temporalio.client import Client

from services.worker.agents import METADATA_HASH, register_team
from services.worker.mcp_servers import McpServers
from services.worker.settings import WorkerSettings
from services.worker.team_files import Team
from tests.fixtures.mistral_sim import MistralSim, start_mistral_sim
from tests.fixtures.worker import running_worker


def nutrisense(servers: McpServers) -> Team:
    team = servers.teams.get("nutrisense")
    assert team is not None
    return team


@pytest.fixture
def fresh_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MistralSim]:
    sim = start_mistral_sim(tmp_path_factory.mktemp("fresh_sim"))
    yield sim
    sim.process.stop()


async def all_agents(sim: MistralSim) -> list[Any]:
    async with Mistral(api_key="k", server_url=sim.url) as client:
        page = await client.beta.agents.list_pages_async(page_size=100)
        assert page is not None
        return list(page.result.data)


async def test_concurrent_session_starts_register_the_team_once(
    temporal_client: Client,
    bus_redis: Any,
    make_settings: Callable[..., Any],
    fresh_sim: MistralSim,
) -> None:
    settings = make_settings(sim_url=fresh_sim.url)
    async with running_worker(temporal_client, bus_redis, settings) as driver:
        handles = await asyncio.gather(*(driver.start() for _ in range(6)))
        turns = await asyncio.gather(
            *(driver.submit(h, "Set my calorie goal to 2000 calories.") for h in handles)
        )
        for handle, turn in zip(handles, turns, strict=True):
            events = await driver.events_until_done(handle, turn.turn_id)
            assert events[-1].type == "turn.completed"
    agents = await all_agents(fresh_sim)
    names = sorted(agent.name for agent in agents)
    assert names == sorted(nutrisense(McpServers.from_settings(settings)).agents)


async def test_registration_is_idempotent_and_a_changed_file_makes_new_versions(
    fresh_sim: MistralSim, make_settings: Callable[..., WorkerSettings]
) -> None:
    mcp = McpServers.from_settings(make_settings())
    team = nutrisense(mcp)
    # The team file with another model: what a changed file reads as.
    edited = team.model_copy(update={"model": "mistral-small-latest"})
    try:
        async with Mistral(api_key="k", server_url=fresh_sim.url) as client:
            first = await register_team(client, mcp, team, "unused-default", [])
            again = await register_team(client, mcp, team, "unused-default", [])
            assert again == first
            changed = await register_team(client, mcp, edited, "unused-default", [])
    finally:
        await mcp.aclose()
    assert [a.agent_id for a in changed.agents] == [a.agent_id for a in first.agents]
    for before, after in zip(first.agents, changed.agents, strict=True):
        assert before.version is not None
        assert after.version is not None
        assert after.version > before.version
    assert changed.spec_hash != first.spec_hash
    agents = {agent.name: agent for agent in await all_agents(fresh_sim)}
    assert len(agents) == len(team.agents)
    assert {agent.model for agent in agents.values()} == {"mistral-small-latest"}
    router = agents["router-agent"]
    assert router.metadata[METADATA_HASH]
    handoff_names = {a.name for a in agents.values() if a.id in set(router.handoffs or [])}
    assert handoff_names == set(team.agent("router-agent").handoffs)
    assert first.tools == {
        name: f"nutrisense/{name}"
        for name in ("goal_setting", "food_log", "food_recommendations", "daily_progress")
    }


async def test_writes_policy_selects_tools_that_are_not_read_only(
    fresh_sim: MistralSim, make_settings: Callable[..., WorkerSettings]
) -> None:
    mcp = McpServers.from_settings(make_settings())
    try:
        async with Mistral(api_key="k", server_url=fresh_sim.url) as client:
            roster = await register_team(client, mcp, nutrisense(mcp), "m", ["writes"])
    finally:
        await mcp.aclose()
    assert roster.approval_tools == ["food_log", "goal_setting"]
