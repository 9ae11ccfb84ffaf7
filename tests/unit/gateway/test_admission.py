"""The adaptive admission limit on turn submits (services/gateway/admission.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack

import pytest

from services.gateway.admission import (
    BACKOFF,
    INITIAL_LIMIT,
    MAX_RETRY_AFTER_S,
    AdmissionConfig,
    AdmissionLimiter,
)
from services.gateway.problems import TYPE_PREFIX, Problem

TARGET_S = 2.0


class Clock:
    """Time for the latency measurements, moved by hand (waits for a slot use the loop's)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(
    clock: Clock, *, floor: int = 2, ceiling: int = 32, wait_s: float = 0.01
) -> AdmissionLimiter:
    config = AdmissionConfig(target_s=TARGET_S, min_limit=floor, max_limit=ceiling, wait_s=wait_s)
    return AdmissionLimiter(config, clock=clock)


async def hold(admission: AdmissionLimiter, count: int, stack: AsyncExitStack) -> None:
    for _ in range(count):
        await stack.enter_async_context(admission.slot())


async def round_of(admission: AdmissionLimiter, clock: Clock, count: int, took_s: float) -> None:
    """`count` submits in flight together, all answered after `took_s`."""
    async with AsyncExitStack() as stack:
        await hold(admission, count, stack)
        clock.now += took_s


async def until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until `condition` holds."""
    async with asyncio.timeout(5):
        while True:
            if condition():
                return
            await asyncio.sleep(0)


async def failing_round(
    admission: AdmissionLimiter, clock: Clock, count: int, took_s: float, error: BaseException
) -> None:
    """`count` submits in flight together, all ending in `error` after `took_s`."""
    async with AsyncExitStack() as stack:
        await hold(admission, count, stack)
        clock.now += took_s
        raise error


async def test_slow_acceptances_shrink_the_limit_once_per_round_down_to_the_floor() -> None:
    clock = Clock()
    admission = limiter(clock)
    assert admission.limit == INITIAL_LIMIT
    # Three calls in flight, all slow: one round, one decrease (not three).
    await round_of(admission, clock, 3, TARGET_S + 3)
    assert admission.limit == int(INITIAL_LIMIT * BACKOFF)
    # A call sent after that decrease, slow again: the next round shrinks it again.
    await round_of(admission, clock, 1, TARGET_S + 3)
    assert admission.limit == int(INITIAL_LIMIT * BACKOFF * BACKOFF)
    for _ in range(10):
        await round_of(admission, clock, 1, TARGET_S + 3)
    assert admission.limit == 2
    assert admission.in_flight == 0


async def test_fast_acceptances_grow_the_limit_back_up_to_the_ceiling() -> None:
    clock = Clock()
    admission = limiter(clock)
    for _ in range(10):
        await round_of(admission, clock, 1, TARGET_S * 5)
    assert admission.limit == 2
    seen = []
    for _ in range(20):
        await round_of(admission, clock, admission.limit, TARGET_S / 10)
        seen.append(admission.limit)
    assert seen == sorted(seen)
    assert seen[-1] == 32  # the ceiling, never passed


async def test_a_quiet_process_does_not_grow_the_limit() -> None:
    clock = Clock()
    admission = limiter(clock)
    for _ in range(50):
        await round_of(admission, clock, 1, 0.01)  # one at a time: nothing shown about load
    assert admission.limit == INITIAL_LIMIT


async def test_only_answers_grow_the_limit_and_any_slow_end_shrinks_it() -> None:
    clock = Clock()
    admission = limiter(clock)
    failures: list[BaseException] = [
        Problem(503, "temporal-unavailable", "down"),
        RuntimeError("unexpected"),
    ]
    for error in failures:  # a quick failure shows nothing about acceptance
        with pytest.raises(type(error)):
            await failing_round(admission, clock, INITIAL_LIMIT, 0.01, error)
        assert admission.limit == INITIAL_LIMIT
    # The session answered (a 4xx): that is an acceptance, and a quick one.
    busy = Problem(409, "session-busy", "busy")
    with pytest.raises(Problem):
        await failing_round(admission, clock, INITIAL_LIMIT, 0.01, busy)
    assert admission.limit > INITIAL_LIMIT
    grown = admission.limit
    timed_out = Problem(503, "temporal-unavailable", "The session did not answer in time")
    with pytest.raises(Problem):
        await failing_round(admission, clock, 1, TARGET_S * 10, timed_out)
    assert admission.limit == int(grown * BACKOFF)
    assert admission.in_flight == 0


async def test_a_submit_with_no_slot_in_time_gets_a_429_overloaded_with_retry_after() -> None:
    clock = Clock()
    admission = limiter(clock, floor=1, ceiling=1)
    async with admission.slot():
        with pytest.raises(Problem) as refused:
            async with admission.slot():
                pytest.fail("admitted past the limit")
        assert admission.in_flight == 1
    problem = refused.value
    assert problem.status == 429
    assert problem.type == f"{TYPE_PREFIX}overloaded"
    retry_after = int(problem.headers["Retry-After"])
    assert 1 <= retry_after <= MAX_RETRY_AFTER_S
    assert problem.detail is not None
    assert f"retry after {retry_after} s" in problem.detail
    assert "Idempotency-Key" in problem.detail
    assert (admission.in_flight, admission.waiting) == (0, 0)
    async with admission.slot():  # nothing leaked: the slot is free again
        assert admission.in_flight == 1


async def test_retry_after_grows_with_the_place_in_the_queue() -> None:
    clock = Clock()
    admission = limiter(clock, floor=1, ceiling=1)

    async def submit() -> None:
        async with admission.slot():
            pytest.fail("admitted past the limit")

    async with admission.slot():
        refused = await asyncio.gather(*(submit() for _ in range(3)), return_exceptions=True)
    # One slot, answers every TARGET_S (the estimate before any measurement): the n-th in line
    # waits about n of them.
    assert all(isinstance(r, Problem) for r in refused)
    waits = [int(r.headers["Retry-After"]) for r in refused if isinstance(r, Problem)]
    assert waits == [2, 4, 6]


async def test_waiters_get_freed_slots_in_order_of_arrival() -> None:
    clock = Clock()
    admission = limiter(clock, floor=1, ceiling=1, wait_s=30)
    order: list[str] = []

    async def submit(name: str) -> None:
        async with admission.slot():
            order.append(name)

    async with admission.slot():
        first = asyncio.create_task(submit("first"))
        await until(lambda: admission.waiting == 1)
        second = asyncio.create_task(submit("second"))
        await until(lambda: admission.waiting == 2)
    await asyncio.gather(first, second)
    assert order == ["first", "second"]
    assert (admission.in_flight, admission.waiting) == (0, 0)


async def test_slots_are_released_when_a_submit_fails_or_is_cancelled() -> None:
    clock = Clock()
    admission = limiter(clock, floor=1, ceiling=1, wait_s=30)
    with pytest.raises(RuntimeError):
        async with admission.slot():
            raise RuntimeError("boom")
    assert admission.in_flight == 0
    entered = asyncio.Event()

    async def stuck() -> None:
        async with admission.slot():
            entered.set()
            await asyncio.Event().wait()

    holder = asyncio.create_task(stuck())
    await entered.wait()
    waiter = asyncio.create_task(stuck())
    await until(lambda: admission.waiting == 1)
    waiter.cancel()  # gave up while waiting: it leaves the line
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (admission.in_flight, admission.waiting) == (1, 0)
    holder.cancel()  # cut off while in flight: its slot comes back
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert (admission.in_flight, admission.waiting) == (0, 0)


async def test_a_slot_handed_to_a_waiter_that_is_then_cancelled_comes_back() -> None:
    clock = Clock()
    admission = limiter(clock, floor=1, ceiling=1, wait_s=30)
    stack = AsyncExitStack()
    await hold(admission, 1, stack)
    waiter = asyncio.create_task(round_of(admission, clock, 1, 0))
    await until(lambda: admission.waiting == 1)
    await stack.aclose()  # the slot goes to the waiter...
    assert (admission.in_flight, admission.waiting) == (1, 0)
    waiter.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert admission.in_flight == 0
    await round_of(admission, clock, 1, 0)


@pytest.mark.parametrize(
    ("floor", "ceiling", "target_s", "wait_s"),
    [(0, 1, 2.0, 1.0), (3, 2, 2.0, 1.0), (1, 1, 0.0, 1.0), (1, 1, 2.0, -1.0)],
)
def test_bad_configs_are_refused(floor: int, ceiling: int, target_s: float, wait_s: float) -> None:
    with pytest.raises(ValueError, match="need"):
        AdmissionConfig(target_s=target_s, min_limit=floor, max_limit=ceiling, wait_s=wait_s)
