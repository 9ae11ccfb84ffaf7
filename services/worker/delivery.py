"""Publishing from activities: the bus is delivery, so a failed publish never decides a step.

DESIGN.md ("Faults"): the workflow is the record of truth. A step whose events cannot reach
Redis goes on (the model's answer and the tool's effect are what matter, and the workflow
publishes the turn's end once the bus is back); clients learn what they missed from a
`stream.gap` published as soon as the bus answers again.
"""

from __future__ import annotations

import logging
import time

from pydantic import BaseModel
from redis.exceptions import RedisError

from services.common.bus import EventBus
from services.common.events import StreamGap

log = logging.getLogger(__name__)

# After a failure, skip publishing for this long instead of waiting on a dead bus per delta.
RETRY_AFTER_S = 1.0


class StepPublisher:
    """One activity attempt's publisher of one session's events, tolerant of bus outages."""

    def __init__(self, bus: EventBus, bus_key: str, session_id: str, turn_id: str) -> None:
        self.bus = bus
        self.bus_key = bus_key
        self.session_id = session_id
        self.turn_id = turn_id
        self.last_id: str | None = None
        # Events were lost and no `stream.gap` says so yet.
        self.gap_owed = False
        self._paused_until = 0.0

    @property
    def gap_after(self) -> str | None:
        """Where an owed gap begins (the last id published, "0" for none), or None."""
        return (self.last_id or "0") if self.gap_owed else None

    async def __call__(self, event: BaseModel, *, once: str | None = None) -> bool:
        """Publish `event`; False when the bus could not take it (logged, never raised)."""
        if time.monotonic() < self._paused_until:
            self.gap_owed = True
            return False
        try:
            if self.gap_owed:
                gap = StreamGap(
                    session_id=self.session_id, turn_id=self.turn_id, after=self.last_id or "0"
                )
                await self.bus.publish(self.bus_key, gap)
                self.gap_owed = False
            self.last_id = await self.bus.publish(self.bus_key, event, once=once)
        except (RedisError, OSError) as exc:
            if not self.gap_owed:
                log.warning("event bus unavailable (%s); the step goes on", type(exc).__name__)
            self.gap_owed = True
            self._paused_until = time.monotonic() + RETRY_AFTER_S
            return False
        return True
