"""The turn engine: generation decoupled from delivery, locks, and shutdown."""

from __future__ import annotations

import anyio

from services.mistral_sim.ids import now_iso
from services.mistral_sim.store import Conversation, Store
from services.mistral_sim.streaming import Pacing
from services.mistral_sim.turns import TurnEngine


def _conversation() -> Conversation:
    stamp = now_iso()
    return Conversation(id="conv_t", created_at=stamp, updated_at=stamp, model="m")


async def test_turn_commits_and_unlocks_even_if_nobody_reads() -> None:
    engine = TurnEngine(Store(), Pacing())
    conversation = _conversation()
    run = engine.begin(conversation, [{"type": "message.input", "role": "user", "content": "hi"}])
    assert conversation.busy
    await run.finished.wait()
    assert not conversation.busy
    assert [e["type"] for e in conversation.entries] == ["message.input", "message.output"]


async def test_shutdown_ends_a_stream_with_an_error_event() -> None:
    engine = TurnEngine(Store(), Pacing(first_token_s=30.0))
    conversation = _conversation()
    run = engine.begin(conversation, [{"type": "message.input", "role": "user", "content": "hi"}])
    stop = anyio.Event()
    stream = run.stream(stop)
    first = await anext(stream)
    assert first.type == "conversation.response.started"
    stop.set()
    last = await anext(stream)
    assert last.type == "conversation.response.error"
    assert last.data["code"] == 503
    await engine.shutdown()
    assert not conversation.busy
    assert conversation.entries == []
