"""Publishing from activities: the bus is delivery, so a failed publish never decides a step.

docs/architecture.md#faults: the workflow is the record of truth. A step whose events cannot reach
Redis goes on (the model's answer and the tool's effect are what matter, and the workflow
publishes the turn's end once the bus is back); clients learn what they missed from a
`stream.gap` published as soon as the bus answers again.

Events go out in order through one queue per step. A streamed delta is posted and not waited
on; whatever queued while a batch was on the wire goes as the next batch, in one round trip.
An idle worker thus sends each delta at once, and a busy one pays one round trip (and no trace
span: ~80 deltas a turn) per batch rather than per delta. The batches of all the process's
sessions share round trips too (services/common/publish_queue.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry.instrumentation.utils import suppress_instrumentation
from redis.exceptions import RedisError

from services.common.bus import EventBus, RawPublish
from services.common.events import Event, MessageDelta, StreamGap
from services.common.sessions import BusKey

log = logging.getLogger(__name__)

# After a failure, skip publishing for this long instead of waiting on a dead bus per delta.
RETRY_AFTER_S = 1.0


@dataclass(slots=True)
class _Queued:
    event: Event
    once: str | None
    # Set with whether the event reached the bus, for a publisher that waits on it.
    outcome: asyncio.Future[bool] | None


def _joined(batch: list[_Queued]) -> list[tuple[Event, str | None]]:
    """The batch's events, with each run of posted deltas of one agent joined into one.

    Only deltas that queued behind a batch on the wire meet here: an idle worker still sends
    each at once. Joined, they carry the same text in order (clients concatenate deltas), so
    every later hop (Redis, fan-out, each viewer) handles one event
    where the model sent several.
    """
    out: list[tuple[Event, str | None]] = []
    for item in batch:
        event = item.event
        last = out[-1][0] if out else None
        if (
            isinstance(event, MessageDelta)
            and isinstance(last, MessageDelta)
            and item.outcome is None
            and item.once is None
            and out[-1][1] is None
            and (last.turn_id, last.agent) == (event.turn_id, event.agent)
        ):
            out[-1] = (last.model_copy(update={"text": last.text + event.text}), None)
        else:
            out.append((event, item.once))
    return out


class StepPublisher:
    """One activity attempt's publisher of one session's events, tolerant of bus outages."""

    def __init__(self, bus: EventBus, key: BusKey, turn_id: str) -> None:
        self.bus = bus
        self.key = key
        self.session_id = key.session_id  # what events carry: the bare id, never the key
        self.turn_id = turn_id
        self.last_id: str | None = None
        # Events were lost and no `stream.gap` says so yet.
        self.gap_owed = False
        self._paused_until = 0.0
        self._queue: list[_Queued] = []
        self._sender: asyncio.Task[None] | None = None
        # Called once, at the first text delta posted (the turn's first token, when it is).
        self.on_first_text: Callable[[], None] | None = None

    @property
    def gap_after(self) -> str | None:
        """Where an owed gap begins (the last id published, "0" for none), or None."""
        return (self.last_id or "0") if self.gap_owed else None

    async def __call__(self, event: Event, *, once: str | None = None) -> bool:
        """Publish `event` after those queued before it; False when the bus could not take it
        (logged, never raised)."""
        outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._enqueue(_Queued(event, once, outcome))
        return await outcome

    def post(self, event: MessageDelta) -> None:
        """Queue `event` (a streamed delta) without waiting for it."""
        if self.on_first_text is not None and isinstance(event, MessageDelta):
            first, self.on_first_text = self.on_first_text, None
            first()
        self._enqueue(_Queued(event, None, None))

    async def drain(self) -> None:
        """Wait until every queued event was published or given up on."""
        while self._sender is not None and not self._sender.done():
            await asyncio.shield(self._sender)

    def _enqueue(self, item: _Queued) -> None:
        self._queue.append(item)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_queued())

    async def _send_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                published = await self._send(batch)
            except Exception:
                # Not an outage _send knows: still a loss, never a failed step, and never a
                # hang of whoever waits on this batch (the task would end with them unanswered).
                log.exception("publishing a step's events failed; the step goes on")
                self.gap_owed = True
                published = False
            for item in batch:
                if item.outcome is not None and not item.outcome.done():
                    item.outcome.set_result(published)

    async def _send(self, batch: list[_Queued]) -> bool:
        if time.monotonic() < self._paused_until:
            self.gap_owed = True
            return False
        events = [RawPublish.of(event, once) for event, once in _joined(batch)]
        if self.gap_owed:
            after = self.last_id or "0"
            gap = StreamGap(session_id=self.session_id, turn_id=self.turn_id, after=after)
            events.insert(0, RawPublish.of(gap))
        try:
            if all(isinstance(item.event, MessageDelta) for item in batch):
                with suppress_instrumentation():  # no span per delta batch
                    ids = await self.bus.publish_batch(self.key, events)
            else:
                ids = await self.bus.publish_batch(self.key, events)
        except (RedisError, OSError) as exc:
            if not self.gap_owed:
                log.warning("event bus unavailable (%s); the step goes on", type(exc).__name__)
            self.gap_owed = True
            self._paused_until = time.monotonic() + RETRY_AFTER_S
            return False
        self.gap_owed = False
        self.last_id = ids[-1]
        return True
