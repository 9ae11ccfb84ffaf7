"""Sections 1 and 2: time to first token and inter-token gaps, direct SDK vs the platform.

The same prompt ("hi", small talk the simulator's router agent answers itself: no handoff, no
tool) goes (a) straight to the simulator through the `mistralai` SDK as an append to an existing
conversation of the platform's entry agent, exactly the call the worker's `converse` activity
makes, and (b) through the gateway as a message on an existing session, streamed back with
`Accept: text/event-stream`. Turns alternate A/B (the order flips each round) over a few
sessions and conversations so that neither side gets a warmer machine. Times are taken on the
client with `time.perf_counter`: from just before the request to the first text delta
(`message.output.delta` direct, `message.delta` through the platform), and between deltas.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from mistralai.client import Mistral
from mistralai.client import models as m

from scripts.bench import direct
from scripts.bench.common import PROMPT, Gateway, StreamedTurn, stage_summary, summary


@dataclass
class DirectTurn:
    started: float
    deltas: list[float] = field(default_factory=list)  # perf_counter of each text delta
    error: str | None = None

    @property
    def ttft_ms(self) -> float | None:
        return (self.deltas[0] - self.started) * 1000.0 if self.deltas else None


@dataclass
class ABSamples:
    direct: list[DirectTurn] = field(default_factory=list)
    platform: list[StreamedTurn] = field(default_factory=list)
    seconds: float = 0.0


async def direct_turn(client: Mistral, conversation_id: str) -> DirectTurn:
    turn = DirectTurn(started=time.perf_counter())
    try:
        stream = await client.beta.conversations.append_stream_async(
            conversation_id=conversation_id, inputs=PROMPT
        )
        async with stream as events:
            async for event in events:
                if isinstance(event.data, m.MessageOutputEvent) and event.data.content:
                    turn.deltas.append(time.perf_counter())
    except Exception as exc:  # a failed turn is counted, not fatal
        turn.error = f"{type(exc).__name__}: {exc}"
    return turn


async def run_ab(
    gateway_url: str, sim_url: str, api_key: str, turns: int, lanes: int = 4
) -> ABSamples:
    """`turns` direct and `turns` platform turns, alternating, over `lanes` sessions each."""
    gateway = Gateway(gateway_url, api_key, max_connections=16)
    client = Mistral(api_key="bench", server_url=sim_url, timeout_ms=60_000)
    samples = ABSamples()
    try:
        sessions = [await gateway.create_session() for _ in range(lanes)]
        for sid in sessions:  # the first turn starts the conversation; not measured
            warm = await gateway.stream_turn(sid)
            if not warm.ok:
                raise RuntimeError(f"warm-up turn failed: {warm.error}")
        # The sessions' conversations run on the entry agent the platform registered; the
        # direct turns start theirs on the same one (a session's own conversation is internal).
        agent_id, version = await direct.entry_agent(client)
        conversations = []
        for _ in range(lanes):
            stream = await client.beta.conversations.start_stream_async(
                agent_id=agent_id, agent_version=version, inputs=PROMPT
            )
            conversation_id = None
            async with stream as events:
                async for event in events:
                    if isinstance(event.data, m.ResponseStartedEvent):
                        conversation_id = event.data.conversation_id
            assert conversation_id is not None
            conversations.append(conversation_id)
        began = time.perf_counter()
        for index in range(turns):
            lane = index % lanes

            async def a() -> None:
                samples.direct.append(await direct_turn(client, conversations[lane]))  # noqa: B023

            async def b() -> None:
                samples.platform.append(await gateway.stream_turn(sessions[lane]))  # noqa: B023

            first, second = (a, b) if index % 2 == 0 else (b, a)
            await first()
            await second()
        samples.seconds = time.perf_counter() - began
    finally:
        await gateway.aclose()
        await client.__aexit__(None, None, None)  # type: ignore[no-untyped-call]
    return samples


def ttft_result(samples: ABSamples) -> dict[str, Any]:
    direct = [t.ttft_ms for t in samples.direct if t.ttft_ms is not None]
    platform = [t.ttft_ms for t in samples.platform if t.ttft_ms is not None]
    # Paired: the direct and platform turns of the same round, run back to back.
    added = [
        p.ttft_ms - d.ttft_ms
        for d, p in zip(samples.direct, samples.platform, strict=False)
        if d.ttft_ms is not None and p.ttft_ms is not None
    ]
    to_headers = [
        (t.headers_at - t.started) * 1000.0 for t in samples.platform if t.headers_at is not None
    ]
    errors = sum(1 for t in samples.direct if t.ttft_ms is None) + sum(
        1 for t in samples.platform if not t.ok
    )
    return {
        "prompt": PROMPT,
        "path": "small talk answered by the entry (router) agent: no handoff, no tool call; "
        "direct = SDK append_stream on an existing conversation, platform = POST message on "
        "an existing session with Accept: text/event-stream",
        "direct_ms": summary(direct),
        "platform_ms": summary(platform),
        "added_ms": summary(added),
        "platform_breakdown_ms": {
            "post_to_response_headers": summary(to_headers),
            **stage_summary(samples.platform),
        },
        "errors": errors,
        "seconds": round(samples.seconds, 1),
        "target": {"added_p50_ms": 25, "added_p99_ms": 80},
    }
