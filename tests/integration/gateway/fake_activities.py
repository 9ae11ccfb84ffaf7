"""The fake session's activities: publish a deterministic turn (or given events) on the bus."""

from __future__ import annotations

import asyncio

from temporalio import activity

from services.common.bus import EventBus
from services.common.events import (
    EVENT_ADAPTER,
    ErrorInfo,
    MessageDelta,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)
from services.common.sessions import BusKey
from tests.integration.gateway.fake_session import (
    PUBLISH_ACTIVITY,
    STREAM_ACTIVITY,
    Publish,
    StreamOutcome,
    StreamTurn,
)

AGENT = "nutrisense"


def reply_words(text: str) -> list[str]:
    """The deterministic answer, word by word (40 words for a `slow` turn)."""
    if "slow" in text or "hold" in text:
        return [f"w{n}" for n in range(40)]
    return ["NutriSense", "(fake)", "heard:", *text.split()[:20]]


class FakeActivities:
    def __init__(self, bus: EventBus, delay_s: float = 0.025) -> None:
        self.bus = bus
        self.delay_s = delay_s

    @activity.defn(name=STREAM_ACTIVITY)
    async def stream_turn(self, turn: StreamTurn) -> StreamOutcome:
        key, sid, tid = BusKey.parse(turn.bus_key), turn.session_id, turn.turn_id
        await self.bus.publish(key, TurnStarted(session_id=sid, turn_id=tid, agent=AGENT))
        if "fail" in turn.input:
            error = ErrorInfo(code="fake_failure", message="asked to fail")
            await self.bus.publish(key, TurnFailed(session_id=sid, turn_id=tid, error=error))
            return StreamOutcome("failed", error="asked to fail")
        paced = "slow" in turn.input or "hold" in turn.input
        words = reply_words(turn.input)
        index = 0
        while True:
            if activity.is_cancelled():
                # A cancel that lands inside a Redis call can be swallowed there: check too.
                raise asyncio.CancelledError
            activity.heartbeat(index)
            if index < len(words):
                text = words[index] + ("" if index == len(words) - 1 else " ")
                delta = MessageDelta(session_id=sid, turn_id=tid, text=text, agent=AGENT)
                await self.bus.publish(key, delta)
            elif "hold" not in turn.input:
                break
            index += 1
            if paced:
                await asyncio.sleep(self.delay_s)  # cancellation arrives here
        output = " ".join(words)
        usage = Usage(prompt_tokens=3, completion_tokens=len(words), total_tokens=3 + len(words))
        done = TurnCompleted(session_id=sid, turn_id=tid, output=output, usage=usage)
        await self.bus.publish(key, done)
        return StreamOutcome("completed", output=output)

    @activity.defn(name=PUBLISH_ACTIVITY)
    async def publish(self, request: Publish) -> None:
        for raw in request.events:
            await self.bus.publish(
                BusKey.parse(request.bus_key), EVENT_ADAPTER.validate_python(raw)
            )
