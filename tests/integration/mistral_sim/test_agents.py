"""Agents through the real SDK, sync and async: every endpoint, parsed into the SDK's classes."""

from __future__ import annotations

import uuid

import httpx2
import pytest
from mistralai.client import Mistral, errors, models

from tests.fixtures.mistral_sim import MistralSim
from tests.integration.mistral_sim.sdk import WEATHER_TOOL, loose

# `agents.list` is deprecated in the SDK but still what older code calls.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _name() -> str:
    return f"agent-{uuid.uuid4().hex[:8]}"


def test_create_get_update_versions_delete(client: Mistral) -> None:
    name = _name()
    created = client.beta.agents.create(
        model="mistral-medium-latest",
        name=name,
        instructions="be nice",
        tools=loose([WEATHER_TOOL, {"type": "web_search"}]),
        completion_args={"temperature": 0.3},
        metadata={"spec_hash": "h1"},
        handoffs=[],
    )
    assert isinstance(created, models.Agent)
    assert created.id.startswith("ag_")
    assert len(created.id) == 35
    assert (created.version, created.versions) == (0, [0])
    assert created.source == "api"
    assert created.deployment_chat is False
    assert created.metadata == {"spec_hash": "h1"}
    assert created.tools is not None
    function_tool, web_tool = created.tools
    assert isinstance(function_tool, models.FunctionTool)
    assert isinstance(web_tool, models.WebSearchTool)
    assert function_tool.function.parameters["required"] == ["city"]

    fetched = client.beta.agents.get(agent_id=created.id)
    assert fetched == created

    updated = client.beta.agents.update(
        agent_id=created.id, description="d2", metadata={"spec_hash": "h2"}
    )
    assert (updated.version, updated.versions) == (1, [0, 1])
    assert updated.description == "d2"
    assert updated.instructions == "be nice"
    again = client.beta.agents.update(agent_id=created.id, handoffs=[created.id])
    assert again.version == 2
    assert again.metadata == {"spec_hash": "h2"}

    versions = client.beta.agents.list_versions(agent_id=created.id)
    assert [v.version for v in versions] == [2, 1, 0]
    assert all(isinstance(v, models.Agent) for v in versions)
    old = client.beta.agents.get_version(agent_id=created.id, version="0")
    assert old.description is None
    assert old.metadata == {"spec_hash": "h1"}
    assert client.beta.agents.get(agent_id=created.id, agent_version=1).description == "d2"

    switched = client.beta.agents.update_version(agent_id=created.id, version=0)
    assert switched.version == 0
    assert switched.versions == [0, 1, 2]

    alias = client.beta.agents.create_version_alias(agent_id=created.id, alias="prod", version=1)
    assert isinstance(alias, models.AgentAliasResponse)
    assert alias.version == 1
    assert [a.alias for a in client.beta.agents.list_version_aliases(agent_id=created.id)] == [
        "prod"
    ]
    assert client.beta.agents.get(agent_id=created.id, agent_version="prod").version == 1
    client.beta.agents.delete_version_alias(agent_id=created.id, alias="prod")
    assert client.beta.agents.list_version_aliases(agent_id=created.id) == []

    client.beta.agents.delete(agent_id=created.id)
    with pytest.raises(errors.SDKError) as caught:
        client.beta.agents.get(agent_id=created.id)
    assert caught.value.status_code == 404


def test_list_both_forms_with_filters(client: Mistral) -> None:
    tag = uuid.uuid4().hex
    ids = [
        client.beta.agents.create(
            model="mistral-small-latest", name=_name(), metadata={"t": tag}
        ).id
        for _ in range(3)
    ]
    # The SDK sends a bogus `metadata` sentinel when none is given: it must be ignored.
    everything = client.beta.agents.list(page_size=1000)
    assert set(ids) <= {agent.id for agent in everything}

    tagged = client.beta.agents.list(metadata={"t": tag})
    assert sorted(agent.id for agent in tagged) == sorted(ids)
    by_name = client.beta.agents.list(name=tagged[0].name)
    assert [agent.id for agent in by_name] == [tagged[0].id]

    first = client.beta.agents.list_pages(page_size=2, metadata={"t": tag})
    assert first is not None
    assert isinstance(first.result, models.AgentListPage)
    assert len(first.result.data) == 2
    assert first.result.next_page_token
    second = client.beta.agents.list_pages(
        page_size=2, metadata={"t": tag}, page_token=first.result.next_page_token
    )
    assert second is not None
    assert len(second.result.data) == 1
    assert second.result.next_page_token is None
    seen = {a.id for a in first.result.data} | {a.id for a in second.result.data}
    assert seen == set(ids)


async def test_async_agent_calls(aclient: Mistral) -> None:
    created = await aclient.beta.agents.create_async(
        model="mistral-medium-latest",
        name=_name(),
        tools=[WEATHER_TOOL],
    )
    assert isinstance(created, models.Agent)
    fetched = await aclient.beta.agents.get_async(agent_id=created.id)
    assert fetched.id == created.id
    updated = await aclient.beta.agents.update_async(agent_id=created.id, instructions="short")
    assert updated.version == 1
    assert updated.instructions == "short"
    listed = await aclient.beta.agents.list_async(id=created.id)
    assert [a.id for a in listed] == [created.id]
    pages = await aclient.beta.agents.list_pages_async(id=created.id)
    assert pages is not None
    assert [a.id for a in pages.result.data] == [created.id]
    versions = await aclient.beta.agents.list_versions_async(agent_id=created.id)
    assert [v.version for v in versions] == [1, 0]
    await aclient.beta.agents.delete_async(agent_id=created.id)
    with pytest.raises(errors.SDKError) as caught:
        await aclient.beta.agents.get_async(agent_id=created.id)
    assert caught.value.status_code == 404


def test_invalid_body_is_a_422_in_the_real_shape(mistral_sim: MistralSim) -> None:
    # The SDK validates its own arguments, so the bad body goes over plain HTTP.
    response = httpx2.post(f"{mistral_sim.url}/v1/agents", json={"model": "m", "name": 3})
    assert response.status_code == 422
    body = response.json()
    assert body["object"] == "error"
    assert body["type"] == "invalid_request_error"
    assert body["param"] is None
    assert body["code"] is None
    (detail,) = body["message"]["detail"]
    assert detail["loc"] == ["body", "name"]
    assert detail["type"] == "string_type"

    extra = httpx2.post(
        f"{mistral_sim.url}/v1/agents", json={"model": "m", "name": "n", "store": False}
    )
    assert extra.status_code == 422
    assert extra.json()["message"]["detail"][0]["type"] == "extra_forbidden"
