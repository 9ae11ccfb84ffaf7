"""Adaptive admission of turns: how many submits one gateway process keeps in flight to Temporal.

A submit is the Update-with-start of `SessionClient.submit` (temporal.py); it is accepted only
once a worker has run the session's validator. When the workers are saturated, every extra call
in flight only waits longer, until `GATEWAY_TEMPORAL_TIMEOUT_S` answers 503 and the client cannot
know whether its turn was queued. So the limit follows how fast turns are accepted (AIMD):

- an answer within the target latency adds one to the limit, while the limit is in use;
- a call slower than the target multiplies the limit by `BACKOFF`, once per round: calls that
  were already in flight when the limit last shrank do not shrink it again;
- it stays between a floor (turns always make progress) and a ceiling.

A submit that finds no free slot within a short wait is refused at once with 429 `overloaded`
and a `Retry-After`: the turn was certainly not queued, and the client sends it again with the
same Idempotency-Key (routes/sessions.py). Only submits pass through here: cancels, approvals
and ending a session free capacity and are never shed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from services.gateway.problems import Problem

log = logging.getLogger(__name__)

# What a slow call leaves of the limit: gentle enough that one slow round does not starve the
# process, firm enough that a jam halves the calls in flight within two rounds.
BACKOFF = 0.7
# Where the limit starts: a burst right after start-up meets a modest limit, which doubles per
# round of quick answers (one more per answer) up to the ceiling.
INITIAL_LIMIT = 16
# Weight of the newest call in the smoothed latency that Retry-After is estimated from.
SMOOTHING = 0.2
# Retry-After never asks a client to wait longer than this.
MAX_RETRY_AFTER_S = 30


@dataclass(frozen=True, slots=True)
class AdmissionConfig:
    target_s: float  # an acceptance slower than this shrinks the limit
    min_limit: int
    max_limit: int
    wait_s: float  # how long a submit may wait for a slot before its 429

    def __post_init__(self) -> None:
        if not 1 <= self.min_limit <= self.max_limit:
            raise ValueError("need 1 <= min_limit <= max_limit")
        if self.target_s <= 0 or self.wait_s < 0:
            raise ValueError("need target_s > 0 and wait_s >= 0")


def overloaded(retry_after_s: int) -> Problem:
    return Problem(
        429,
        "overloaded",
        f"The platform is at capacity and did not queue the turn; retry after {retry_after_s} s "
        "with the same Idempotency-Key.",
        headers={"Retry-After": str(retry_after_s)},
    )


def retry_after(eta_s: float) -> int:
    """Whole seconds for a Retry-After header, at least 1 and at most MAX_RETRY_AFTER_S."""
    return min(MAX_RETRY_AFTER_S, max(1, math.ceil(eta_s)))


class AdmissionLimiter:
    """One per gateway process: `async with limiter.slot():` around each submit."""

    def __init__(
        self, config: AdmissionConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._clock = clock
        self._limit = float(min(config.max_limit, max(config.min_limit, INITIAL_LIMIT)))
        self._in_flight = 0
        # FIFO, so a submit that waits is not overtaken by one arriving later.
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._admitted = 0  # slots handed out so far: each slot's round number
        self._round = 0  # `_admitted` when the limit last shrank
        self._latency_s = config.target_s  # smoothed; no call has been measured yet

    @property
    def limit(self) -> int:
        return max(self.config.min_limit, int(self._limit))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the body (one submit), or raise the 429 `overloaded` problem.

        The slot is released however the body ends; its latency counts as an answer when the
        body returned or raised a 4xx problem (the session answered), and as slowness whenever
        it took longer than the target (a timeout, a cut-off call).
        """
        await self._acquire()
        number = self._admitted
        self._admitted += 1
        started = self._clock()
        answered = False
        try:
            yield
            answered = True
        except Problem as problem:
            answered = problem.status < 500
            raise
        finally:
            self._release(number, self._clock() - started, answered)

    async def _acquire(self) -> None:
        if not self._waiters and self._in_flight < self.limit:
            self._in_flight += 1
            return
        # Its turn comes once the submits ahead of it are through, at about limit per latency.
        eta_s = (len(self._waiters) + 1) * self._latency_s / self.limit
        granted = asyncio.get_running_loop().create_future()
        self._waiters.append(granted)
        asked = self._clock()
        try:
            async with asyncio.timeout(self.config.wait_s):
                await granted
        except TimeoutError:
            if _was_granted(granted):
                return  # the slot came with the deadline: keep it
            self._forget(granted)
            raise overloaded(retry_after(eta_s - (self._clock() - asked))) from None
        except BaseException:  # cancelled while waiting: hand back a slot given meanwhile
            if _was_granted(granted):
                self._in_flight -= 1
                self._wake()
            else:
                self._forget(granted)
            raise

    def _forget(self, granted: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):  # `_wake` may have dropped it already
            self._waiters.remove(granted)

    def _release(self, number: int, elapsed_s: float, answered: bool) -> None:
        self._latency_s += SMOOTHING * (elapsed_s - self._latency_s)
        if elapsed_s > self.config.target_s:
            self._slower(number, elapsed_s)
        elif answered:
            self._faster()
        self._in_flight -= 1
        self._wake()

    def _faster(self) -> None:
        # Only while at least half the limit is in use: a quiet process has shown nothing
        # about what Temporal can take, and would otherwise drift to the ceiling.
        if self._in_flight * 2 >= self._limit:
            self._limit = min(float(self.config.max_limit), self._limit + 1)

    def _slower(self, number: int, elapsed_s: float) -> None:
        if number < self._round:
            return  # sent before the last decrease: that decrease already answered it
        self._limit = max(float(self.config.min_limit), self._limit * BACKOFF)
        self._round = self._admitted
        log.info(
            "a turn submit took %.1f s (target %.1f s); in-flight limit now %d",
            elapsed_s,
            self.config.target_s,
            self.limit,
        )

    def _wake(self) -> None:
        """Hand free slots to the oldest waiters (counted as in flight from now on)."""
        while self._waiters and self._in_flight < self.limit:
            granted = self._waiters.popleft()
            if not granted.done():
                granted.set_result(None)
                self._in_flight += 1


def _was_granted(granted: asyncio.Future[None]) -> bool:
    return granted.done() and not granted.cancelled()
