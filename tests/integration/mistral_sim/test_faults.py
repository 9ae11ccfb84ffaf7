"""Injected faults, as the platform's retry tests use them: status, disconnect, delay."""

from __future__ import annotations

import time

import httpx2
import pytest
from mistralai.client import Mistral, errors, models
from mistralai.client.utils import BackoffStrategy, RetryConfig

from tests.fixtures.mistral_sim import MistralSim
from tests.integration.mistral_sim.test_conversations import check_events


@pytest.fixture
def agent_id(client: Mistral) -> str:
    return client.beta.agents.create(model="mistral-small-latest", name="faulty").id


def test_fault_queue_admin(sim_faults_cleared: MistralSim) -> None:
    sim = sim_faults_cleared
    added = sim.add_fault(kind="status", status=503, times=2, path="/v1/agents")
    assert added["remaining"] == 2
    assert [f["id"] for f in sim.faults()] == [added["id"]]
    assert httpx2.get(f"{sim.url}/v1/agents").status_code == 503
    assert sim.faults()[0]["remaining"] == 1
    sim.clear_faults()
    assert sim.faults() == []
    assert httpx2.get(f"{sim.url}/v1/agents").status_code == 200
    bad = httpx2.post(f"{sim.url}/_sim/faults", json={"kind": "explode"})
    assert bad.status_code == 422


def test_status_429_with_retry_after(
    client: Mistral, agent_id: str, sim_faults_cleared: MistralSim
) -> None:
    sim_faults_cleared.add_fault(kind="status", status=429, retry_after_s=2, times=2)
    for _ in range(2):
        with pytest.raises(errors.SDKError) as caught:
            client.beta.conversations.start(agent_id=agent_id, inputs="hi")
        assert caught.value.status_code == 429
        assert caught.value.headers["retry-after"] == "2"
        assert caught.value.raw_response.json()["type"] == "rate_limited"
    assert client.beta.conversations.start(agent_id=agent_id, inputs="hi").outputs
    assert sim_faults_cleared.faults() == []  # used up


def test_sdk_retries_honour_retry_after(
    client: Mistral, agent_id: str, sim_faults_cleared: MistralSim
) -> None:
    sim_faults_cleared.add_fault(kind="status", status=429, retry_after_s=0, times=1)
    sim_faults_cleared.add_fault(kind="status", status=500, times=1)
    retries = RetryConfig("backoff", BackoffStrategy(10, 50, 1.5, 5000), False)
    response = client.beta.conversations.start(agent_id=agent_id, inputs="hi", retries=retries)
    assert isinstance(response.outputs[0], models.MessageOutputEntry)


def test_fault_targets_one_conversation(
    client: Mistral, agent_id: str, sim_faults_cleared: MistralSim
) -> None:
    one = client.beta.conversations.start(agent_id=agent_id, inputs="one")
    two = client.beta.conversations.start(agent_id=agent_id, inputs="two")
    sim_faults_cleared.add_fault(kind="status", status=500, conversation_id=one.conversation_id)
    assert client.beta.conversations.append(conversation_id=two.conversation_id, inputs="x")
    with pytest.raises(errors.SDKError) as caught:
        client.beta.conversations.append(conversation_id=one.conversation_id, inputs="x")
    assert caught.value.status_code == 500


def test_disconnect_cuts_the_stream_but_the_turn_completes(
    client: Mistral, agent_id: str, sim_faults_cleared: MistralSim
) -> None:
    sim = sim_faults_cleared
    first = client.beta.conversations.start(agent_id=agent_id, inputs="hello")
    last_entry = str(first.outputs[-1].id)
    sim.add_fault(kind="disconnect", after_events=3, conversation_id=first.conversation_id)

    received: list[models.ConversationEvents] = []
    stream = client.beta.conversations.append_stream(
        conversation_id=first.conversation_id, inputs="What is 20+22?"
    )
    with pytest.raises(httpx2.TransportError):
        received.extend(stream)  # keeps what arrived before the cut
    assert len(received) == 3
    assert received[0].event == "conversation.response.started"

    # As on the real API the model finished server-side: the append is stored once.
    sim.wait_idle()
    history = client.beta.conversations.get_history(conversation_id=first.conversation_id)
    assert len(history.entries) == 4
    # So a retry restarts from the last entry it knew instead of appending twice.
    events = list(
        client.beta.conversations.restart_stream(
            conversation_id=first.conversation_id, from_entry_id=last_entry, inputs="What is 20+22?"
        )
    )
    check_events(events)


def test_disconnect_on_a_json_answer(
    client: Mistral, agent_id: str, sim_faults_cleared: MistralSim
) -> None:
    sim_faults_cleared.add_fault(kind="disconnect", path="/v1/agents/")
    with pytest.raises(httpx2.TransportError):
        client.beta.agents.get(agent_id=agent_id)
    assert client.beta.agents.get(agent_id=agent_id).id == agent_id


async def test_delay(aclient: Mistral, agent_id: str, sim_faults_cleared: MistralSim) -> None:
    sim_faults_cleared.add_fault(kind="delay", delay_ms=250)
    began = time.monotonic()
    stream = await aclient.beta.conversations.start_stream_async(agent_id=agent_id, inputs="hi")
    events = [event async for event in stream]
    assert time.monotonic() - began >= 0.25
    check_events(events)
    sim_faults_cleared.add_fault(kind="delay", delay_ms=250, path="/v1/models")
    began = time.monotonic()
    await aclient.models.list_async()
    assert time.monotonic() - began >= 0.25
