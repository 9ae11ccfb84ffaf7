"""A step's publisher without Redis (delivery.py): which deltas are joined into one event, and
how an outage turns into False, a pause and one `stream.gap` once the bus answers again."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from services.common.bus import EventBus
from services.common.events import AgentHandoff, Event, MessageDelta, ToolResult, parse_event
from services.common.sessions import BusKey
from services.worker import delivery
from services.worker.delivery import StepPublisher, _joined, _Queued
from tests.unit.worker.fake_bus import FakeBus


def delta(text: str, agent: str | None = "desk", turn: str = "turn_1") -> MessageDelta:
    return MessageDelta(session_id="s_1", turn_id=turn, text=text, agent=agent)


def result(call_id: str = "c1") -> ToolResult:
    return ToolResult(session_id="s_1", turn_id="turn_1", call_id=call_id, name="f", output="ok")


def posted(event: Event) -> _Queued:
    return _Queued(event, None, None)


def summary(joined: list[tuple[Event, str | None]]) -> list[tuple[str, str | None]]:
    """Each event as its text (a delta) or type, with its `once` key."""
    return [
        (event.text if isinstance(event, MessageDelta) else event.type, once)
        for event, once in joined
    ]


# -- joining deltas --------------------------------------------------------------------------


def test_posted_deltas_of_one_agent_become_one_with_the_first_ones_time() -> None:
    first, second, third = delta("Hel"), delta("lo"), delta(" you")
    joined = _joined([posted(first), posted(second), posted(third)])
    assert summary(joined) == [("Hello you", None)]
    event = joined[0][0]
    assert isinstance(event, MessageDelta)
    assert (event.ts, event.agent, event.turn_id) == (first.ts, "desk", "turn_1")
    assert first.text == "Hel"  # the queued events themselves are left as they were


def test_a_delta_of_another_agent_or_turn_starts_a_new_event() -> None:
    batch = [delta("a"), delta("b"), delta("c", "food"), delta("d", None), delta("e", None)]
    batch += [delta("f", None, turn="turn_2")]
    assert summary(_joined([posted(e) for e in batch])) == [
        ("ab", None),
        ("c", None),
        ("de", None),
        ("f", None),
    ]


def test_deltas_never_join_across_another_event() -> None:
    handoff = AgentHandoff(session_id="s_1", turn_id="turn_1", from_agent="desk", to_agent="desk")
    batch = [posted(delta("a")), posted(handoff), posted(delta("b")), posted(delta("c"))]
    assert summary(_joined(batch)) == [("a", None), ("agent.handoff", None), ("bc", None)]


async def test_a_waited_or_once_keyed_event_is_never_joined_into() -> None:
    waited = asyncio.get_running_loop().create_future()
    batch = [
        posted(delta("a")),
        _Queued(delta("b"), None, waited),
        posted(delta("c")),
        _Queued(delta("d"), "once-d", None),
        posted(delta("e")),
        posted(result()),
        _Queued(result("c2"), "once-r", None),
    ]
    assert summary(_joined(batch)) == [
        ("a", None),
        ("bc", None),
        ("d", "once-d"),
        ("e", None),
        ("tool.result", None),
        ("tool.result", "once-r"),
    ]
    waited.cancel()


def test_nothing_queued_is_nothing_sent() -> None:
    assert _joined([]) == []


# -- publishing ------------------------------------------------------------------------------


def publisher(bus: FakeBus) -> StepPublisher:
    return StepPublisher(cast(EventBus, bus), BusKey("t", "s_1"), "turn_1")


async def test_deltas_queued_behind_a_batch_on_the_wire_go_as_one_event_in_order() -> None:
    bus = FakeBus()
    bus.gate = asyncio.Event()
    publish = publisher(bus)
    publish.post(delta("0"))
    await asyncio.sleep(0)  # the sender takes the first delta alone and waits on the wire
    for text in ("1", "2", "3"):
        publish.post(delta(text))
    waiting = asyncio.ensure_future(publish(result(), once="turn_1:c1:tool.result"))
    await asyncio.sleep(0)  # the tool result queues behind the three deltas
    publish.post(delta("4"))
    bus.gate.set()
    assert await waiting is True
    await publish.drain()
    assert bus.batches == [["0"], ["123", "tool.result", "4"]]
    assert [raw.once for raw in bus.log] == [None, None, "turn_1:c1:tool.result", None]
    assert (publish.last_id, publish.gap_after) == ("4-0", None)


async def test_the_first_text_delta_is_told_once() -> None:
    told: list[str] = []
    publish = publisher(FakeBus())
    publish.on_first_text = lambda: told.append("first")
    await publish(result())  # not text
    assert told == []
    publish.post(delta("a"))
    publish.post(delta("b"))
    await publish.drain()
    assert told == ["first"]
    assert publish.on_first_text is None


@pytest.mark.parametrize("outage", [RedisConnectionError("refused"), OSError("unreachable")])
async def test_an_outage_is_false_and_pauses_publishing(outage: BaseException) -> None:
    bus = FakeBus()
    publish = publisher(bus)
    bus.down = [outage]
    assert await publish(result()) is False
    assert (publish.gap_owed, publish.gap_after, bus.attempts) == (True, "0", 1)
    # While paused the bus is not asked at all: a dead bus costs no wait per delta.
    publish.post(delta("lost"))
    assert await publish(result("c2")) is False
    await publish.drain()
    assert (bus.attempts, bus.log) == (1, [])


async def test_once_the_bus_answers_a_gap_says_where_the_loss_began(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "RETRY_AFTER_S", 0.0)
    bus = FakeBus()
    publish = publisher(bus)
    assert await publish(result()) is True
    bus.down = [RedisConnectionError("refused"), RedisConnectionError("refused")]
    assert await publish(result("c2")) is False
    assert publish.gap_after == "1-0"
    assert await publish(result("c3")) is False
    assert publish.gap_after == "1-0"  # still from where the first loss began
    assert await publish(result("c4")) is True
    assert bus.batches == [["tool.result"], ["stream.gap", "tool.result"]]
    gap = parse_event(bus.log[1].data)
    assert gap.model_dump(include={"type", "session_id", "turn_id", "after"}) == {
        "type": "stream.gap",
        "session_id": "s_1",
        "turn_id": "turn_1",
        "after": "1-0",
    }
    assert (publish.gap_owed, publish.last_id) == (False, "3-0")
    assert publish.gap_after is None


async def test_a_step_whose_events_all_reached_the_bus_owes_no_gap() -> None:
    publish = publisher(FakeBus())
    assert publish.gap_after is None
    publish.post(delta("a"))
    await publish.drain()
    assert publish.gap_after is None


async def test_an_unexpected_failure_of_the_bus_is_a_loss_not_a_hang() -> None:
    bus = FakeBus()
    publish = publisher(bus)
    bus.down = [RuntimeError("a reply the client could not read")]
    assert await asyncio.wait_for(publish(result()), timeout=5) is False
    assert publish.gap_after == "0"
    bus.down = [RuntimeError("again")]
    publish.post(delta("lost"))
    await publish.drain()
    assert await asyncio.wait_for(publish(result("c2")), timeout=5) is True
    assert bus.batches == [["stream.gap", "tool.result"]]
