"""The worker's stream decoding (converse.fast_decoding) against the SDK's own, on real bodies.

Each body is a stream the simulator sent, captured whole; both decoders read the same bytes, so
their events must be equal one for one, and a malformed event must fail the same way.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mistralai.client import Mistral
from mistralai.client import models as m
from mistralai.client.utils import eventstreaming
from mistralai.client.utils.unmarshal_json_response import unmarshal_json_response

from services.worker.converse import fast_decoding

TOOL = m.FunctionTool(
    function=m.Function(
        name="daily_progress",
        description="Reports the progress so far today against the goals.",
        parameters={"type": "object", "properties": {}},
    )
)


def response(body: bytes) -> httpx2.Response:
    return httpx2.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=body,
        request=httpx2.Request("POST", "http://sim/v1/conversations"),
    )


async def decode(body: bytes, *, fast: bool) -> list[m.ConversationEvents]:
    res = response(body)
    stream: Any = eventstreaming.EventStreamAsync(
        res, lambda raw: unmarshal_json_response(m.ConversationEvents, res, raw)
    )
    if fast:
        stream = fast_decoding(stream)
    async with stream as events:
        return [event async for event in events]


async def body_of(sim_url: str, agent_id: str, prompt: str) -> bytes:
    async with httpx2.AsyncClient(base_url=sim_url, timeout=30) as http:
        reply = await http.post(
            "/v1/conversations",
            json={"agent_id": agent_id, "inputs": prompt, "stream": True},
            headers={"Authorization": "Bearer test"},
        )
        assert reply.status_code == 200, reply.text
        return reply.content


@pytest.fixture
async def agent_id(mistral_sim: Any) -> str:
    client = Mistral(api_key="test", server_url=mistral_sim.url)
    agent = await client.beta.agents.create_async(
        model="mistral-medium-2505",
        name="daily-progress-agent",
        instructions="Report the user's progress.",
        tools=[TOOL],
    )
    return agent.id


@pytest.mark.parametrize("prompt", ["hi", "How is my progress today?"])
async def test_the_fast_path_decodes_what_the_sdk_decodes(
    mistral_sim: Any, agent_id: str, prompt: str
) -> None:
    body = await body_of(mistral_sim.url, agent_id, prompt)
    ours, theirs = await decode(body, fast=True), await decode(body, fast=False)
    assert ours == theirs
    kinds = {type(event.data).__name__ for event in ours}
    assert {"ResponseStartedEvent", "ResponseDoneEvent"} <= kinds
    if prompt != "hi":
        assert "FunctionCallEvent" in kinds


async def test_comments_and_data_less_events_are_skipped_as_the_sdk_skips_them() -> None:
    body = (
        b": ping\r\n\r\n"
        b"event: conversation.response.started\r\n\r\n"
        b'event: conversation.response.started\r\ndata: {"type": "conversation.response.started",'
        b' "conversation_id": "conv_1"}\r\n\r\n'
    )
    ours, theirs = await decode(body, fast=True), await decode(body, fast=False)
    assert ours == theirs
    assert len(ours) == 1


async def outcome(body: bytes, *, fast: bool) -> Any:
    """The events, or the type of the error decoding raised."""
    try:
        return await decode(body, fast=fast)
    except Exception as exc:
        return type(exc)


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b'{"type": "conversation.response.started"}',  # no conversation_id
        b'{"type": "message.output.delta", "id": 5}',
        b'{"type": "something.new", "x": 1}',
    ],
)
async def test_a_malformed_or_unknown_event_comes_out_as_from_the_sdk(data: bytes) -> None:
    event = data.split(b'"type": "')[1].split(b'"')[0] if b'"type"' in data else b"message"
    body = b"event: " + event + b"\ndata: " + data + b"\n\n"
    ours, theirs = await outcome(body, fast=True), await outcome(body, fast=False)
    assert ours == theirs
