"""The agent team is registered once per Mistral endpoint, idempotently, and versioned."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mistralai.client import Mistral
from pydantic import SecretStr
from temporalio.client import Client

from services.worker.agents import METADATA_HASH, register_team
from services.worker.mcp_tools import McpTools
from services.worker.roster import NUTRISENSE
from tests.fixtures.mistral_sim import MistralSim, start_mistral_sim
from tests.fixtures.worker import running_worker


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
    assert names == sorted(spec.name for spec in NUTRISENSE.agents)


async def test_registration_is_idempotent_and_a_changed_spec_makes_new_versions(
    fresh_sim: MistralSim, mcp_server: Any
) -> None:
    mcp = McpTools(mcp_server.url, auth_token=SecretStr(mcp_server.token))
    try:
        async with Mistral(api_key="k", server_url=fresh_sim.url) as client:
            first = await register_team(client, mcp, NUTRISENSE, "mistral-medium-2505", [])
            again = await register_team(client, mcp, NUTRISENSE, "mistral-medium-2505", [])
            assert again == first
            changed = await register_team(client, mcp, NUTRISENSE, "mistral-small-latest", [])
    finally:
        await mcp.aclose()
    assert [a.agent_id for a in changed.agents] == [a.agent_id for a in first.agents]
    for before, after in zip(first.agents, changed.agents, strict=True):
        assert before.version is not None
        assert after.version is not None
        assert after.version > before.version
    assert changed.spec_hash != first.spec_hash
    agents = {agent.name: agent for agent in await all_agents(fresh_sim)}
    assert len(agents) == len(NUTRISENSE.agents)
    router = agents["router-agent"]
    assert router.metadata[METADATA_HASH]
    handoff_names = {a.name for a in agents.values() if a.id in set(router.handoffs or [])}
    assert handoff_names == set(NUTRISENSE.agent("router-agent").handoffs)


async def test_writes_policy_selects_tools_that_are_not_read_only(
    fresh_sim: MistralSim, mcp_server: Any
) -> None:
    mcp = McpTools(mcp_server.url, auth_token=SecretStr(mcp_server.token))
    try:
        async with Mistral(api_key="k", server_url=fresh_sim.url) as client:
            roster = await register_team(client, mcp, NUTRISENSE, "m", ["writes"])
    finally:
        await mcp.aclose()
    assert roster.approval_tools == ["food_log", "goal_setting"]
