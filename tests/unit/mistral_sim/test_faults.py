"""The fault queue: which requests a fault applies to, and how often."""

from __future__ import annotations

from services.mistral_sim.faults import FaultQueue, FaultSpec


def test_faults_match_path_prefix_and_conversation() -> None:
    queue = FaultQueue()
    queue.add(FaultSpec(kind="status", conversation_id="conv_a", times=2))
    assert queue.take("/v1/conversations") is None  # a start names no conversation
    assert queue.take("/v1/conversations/conv_b") is None
    assert queue.take("/v1/agents") is None
    first = queue.take("/v1/conversations/conv_a/restart")
    assert first is not None
    assert first.remaining == 1
    assert queue.take("/v1/conversations/conv_a") is not None
    assert queue.take("/v1/conversations/conv_a") is None
    assert queue.faults == []


def test_first_matching_fault_wins_and_clear_empties() -> None:
    queue = FaultQueue()
    one = queue.add(FaultSpec(kind="delay", path="/v1/models"))
    two = queue.add(FaultSpec(kind="status", path="/v1"))
    taken = queue.take("/v1/models")
    assert taken is not None
    assert taken.id == one.id
    assert [f.id for f in queue.faults] == [two.id]
    assert queue.clear() == 1
    assert queue.faults == []
