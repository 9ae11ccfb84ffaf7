"""Shared helpers for driving the simulator through the real SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from mistralai.client import Mistral

from tests.fixtures.mistral_sim import MistralSim
from tests.unit.mistral_sim.nutrisense_roster import ROSTER


@pytest.fixture
def client(mistral_sim: MistralSim) -> Iterator[Mistral]:
    with Mistral(api_key="test-key", server_url=mistral_sim.url) as sdk:
        yield sdk


@pytest.fixture
async def aclient(mistral_sim: MistralSim) -> AsyncIterator[Mistral]:
    # One client per test and loop (client-python #473).
    async with Mistral(api_key="test-key", server_url=mistral_sim.url) as sdk:
        yield sdk


@pytest.fixture
def nutrisense(client: Mistral) -> dict[str, str]:
    """The NutriSense roster registered as agents: name -> agent id.

    The cookbook's handoff graph has cycles, so every agent is created first and then given its
    handoffs with a PATCH (a new version), as the platform's idempotent registration may do.
    """
    ids = {
        name: client.beta.agents.create(
            model="mistral-medium-2505",
            name=name,
            description=description,
            tools=tools,  # type: ignore[arg-type]
            metadata={"roster": "nutrisense"},
        ).id
        for name, (description, tools, _) in ROSTER.items()
    }
    for name, (_, _, handoffs) in ROSTER.items():
        client.beta.agents.update(agent_id=ids[name], handoffs=[ids[t] for t in handoffs])
    return ids
