"""The real API's rules: 409 while a request is in flight, 400/3001 for missing function
results, 404 for unknown ids, 422 bodies, and the optional bearer key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mistralai.client import Mistral, errors, models

from scripts.stack.processes import poll
from tests.fixtures.mistral_sim import MistralSim, start_mistral_sim
from tests.integration.mistral_sim.sdk import WEATHER_TOOL, results


@pytest.fixture
def weather_agent(client: Mistral) -> str:
    return client.beta.agents.create(
        model="mistral-medium-latest", name="weather", tools=[WEATHER_TOOL]
    ).id


def _error_body(exc: errors.SDKError) -> dict[str, object]:
    body: dict[str, object] = exc.raw_response.json()
    return body


async def test_concurrent_request_on_one_conversation_is_409(
    aclient: Mistral, sim_faults_cleared: MistralSim
) -> None:
    sim = sim_faults_cleared
    agent = await aclient.beta.agents.create_async(model="mistral-small-latest", name="slow")
    first = await aclient.beta.conversations.start_async(agent_id=agent.id, inputs="hello")
    conversation_id = first.conversation_id
    # Hold the next turn on this conversation in flight for a while.
    sim.add_fault(
        kind="delay", delay_ms=1000, path="/v1/conversations", conversation_id=conversation_id
    )
    slow = asyncio.create_task(
        aclient.beta.conversations.append_async(conversation_id=conversation_id, inputs="one")
    )
    await asyncio.to_thread(poll, lambda: not sim.admin("GET", "/_sim/idle")["idle"], 5.0)

    with pytest.raises(errors.SDKError) as caught:
        await aclient.beta.conversations.append_async(conversation_id=conversation_id, inputs="two")
    assert caught.value.status_code == 409
    assert "concurrent requests are not supported" in str(_error_body(caught.value)["message"])
    with pytest.raises(errors.SDKError) as streamed:
        # A stream's status is checked before any event is read.
        await aclient.beta.conversations.append_stream_async(
            conversation_id=conversation_id, inputs="three"
        )
    assert streamed.value.status_code == 409

    # Restart makes a new conversation and sidesteps the lock.
    restarted = await aclient.beta.conversations.restart_async(
        conversation_id=conversation_id, from_entry_id=str(first.outputs[0].id), inputs="four"
    )
    assert restarted.conversation_id != conversation_id

    done = await slow
    assert isinstance(done.outputs[0], models.MessageOutputEntry)
    again = await aclient.beta.conversations.append_async(
        conversation_id=conversation_id, inputs="five"
    )
    assert again.conversation_id == conversation_id


def test_missing_function_results_is_400_code_3001(client: Mistral, weather_agent: str) -> None:
    started = client.beta.conversations.start(agent_id=weather_agent, inputs="Paris")
    call = started.outputs[0]
    assert isinstance(call, models.FunctionCallEntry)
    conversation_id = started.conversation_id

    refused: list[Any] = ["What about Rome?", []]
    for inputs in refused:
        with pytest.raises(errors.SDKError) as caught:
            client.beta.conversations.append(conversation_id=conversation_id, inputs=inputs)
        assert caught.value.status_code == 400
        body = _error_body(caught.value)
        assert body["code"] == 3001
        assert call.tool_call_id in str(body["message"])

    with pytest.raises(errors.SDKError) as unknown:
        client.beta.conversations.append(
            conversation_id=conversation_id, inputs=results(("not-a-call", "x"))
        )
    assert unknown.value.status_code == 400

    # Restarting from the call keeps it pending: the same rule holds on the new conversation.
    with pytest.raises(errors.SDKError) as forked:
        client.beta.conversations.restart(
            conversation_id=conversation_id, from_entry_id=str(call.id), inputs="Rome"
        )
    assert _error_body(forked.value)["code"] == 3001

    # The worker's retry of a failed result step: restart from the call with the results.
    retried = client.beta.conversations.restart(
        conversation_id=conversation_id,
        from_entry_id=str(call.id),
        inputs=results((call.tool_call_id, "sunny")),
    )
    assert retried.conversation_id != conversation_id
    assert isinstance(retried.outputs[0], models.MessageOutputEntry)

    ok = client.beta.conversations.append(
        conversation_id=conversation_id, inputs=results((call.tool_call_id, "sunny"))
    )
    assert isinstance(ok.outputs[0], models.MessageOutputEntry)


def test_unknown_ids_are_404(client: Mistral, weather_agent: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: client.beta.agents.get(agent_id="ag_missing"),
        lambda: client.beta.agents.update(agent_id="ag_missing", description="x"),
        lambda: client.beta.agents.delete(agent_id="ag_missing"),
        lambda: client.beta.agents.get(agent_id=weather_agent, agent_version=99),
        lambda: client.beta.conversations.start(agent_id="ag_missing", inputs="hi"),
        lambda: client.beta.conversations.get(conversation_id="conv_missing"),
        lambda: client.beta.conversations.append(conversation_id="conv_missing", inputs="hi"),
        lambda: client.beta.conversations.get_history(conversation_id="conv_missing"),
        lambda: client.beta.conversations.get_messages(conversation_id="conv_missing"),
        lambda: client.beta.conversations.delete(conversation_id="conv_missing"),
        lambda: client.beta.conversations.restart(
            conversation_id="conv_missing", from_entry_id="msg_x", inputs="hi"
        ),
        lambda: client.models.retrieve(model_id="no-such-model"),
    ]
    for call in calls:
        with pytest.raises(errors.SDKError) as caught:
            call()
        assert caught.value.status_code == 404
        assert _error_body(caught.value)["object"] == "error"

    started = client.beta.conversations.start(agent_id=weather_agent, inputs="Paris")
    with pytest.raises(errors.SDKError) as caught:
        client.beta.conversations.restart(
            conversation_id=started.conversation_id, from_entry_id="msg_unknown", inputs="x"
        )
    assert caught.value.status_code == 404


def test_invalid_conversation_bodies_are_422(client: Mistral, mistral_sim: MistralSim) -> None:
    # The SDK lets both agent_id and model through; the server refuses the pair.
    with pytest.raises(errors.HTTPValidationError) as caught:
        client.beta.conversations.start(agent_id="ag_x", model="mistral-small-latest", inputs="x")
    assert caught.value.status_code == 422
    body = caught.value.raw_response.json()
    assert body["message"]["detail"][0]["loc"] == ["body"]

    raw = httpx2.post(f"{mistral_sim.url}/v1/conversations", content=b"{not json")
    assert raw.status_code == 422
    assert raw.json()["message"]["detail"][0]["type"] == "json_invalid"
    missing = httpx2.post(f"{mistral_sim.url}/v1/conversations", json={"agent_id": "ag_x"})
    assert missing.json()["message"]["detail"][0]["loc"] == ["body", "inputs"]


@pytest.fixture(scope="module")
def keyed_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MistralSim]:
    sim = start_mistral_sim(Path(tmp_path_factory.mktemp("keyed_sim")), {"SIM_API_KEY": "s3cret"})
    yield sim
    sim.process.stop()


def test_bearer_key_when_configured(keyed_sim: MistralSim) -> None:
    assert httpx2.get(f"{keyed_sim.url}/healthz").status_code == 200
    for key in ("wrong", None):
        with Mistral(api_key=key, server_url=keyed_sim.url) as sdk:
            with pytest.raises(errors.SDKError) as caught:
                sdk.models.list()
            assert caught.value.status_code == 401
    with Mistral(api_key="s3cret", server_url=keyed_sim.url) as sdk:
        assert sdk.models.list().data
