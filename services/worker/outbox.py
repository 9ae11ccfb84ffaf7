"""The session workflow's events on their way to the bus: in order, kept until delivered.

Faults (docs/architecture.md): the workflow is the record of truth, the bus delivery, so a publish
never decides a turn. The workflow puts an event here and goes on; one task delivers them in
order through the `publish_event` local activity and, while Redis is down, keeps them (across
continue-as-new too) and tries again with a growing pause. Each event has a `once` key fixed
when it is put, so a replayed or repeated delivery publishes it only once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.common.events import Event
    from services.common.sessions import BusKey
    from services.common.turn_trace import attached, current_carrier
    from services.worker.activities import SessionActivities
    from services.worker.activity_types import PublishInput

# Kept while the bus is down; past this the oldest are dropped (a very long outage costs
# replay of old events, never a turn: turn records stay in the workflow).
MAX_WAITING = 500
RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=2)
MAX_PAUSE_S = 10.0


@dataclass
class OutboxItem:
    event: Event
    once: str
    # The trace context the event was put in (its turn's), so its publish joins that trace.
    trace_context: dict[str, str] = field(default_factory=dict)


class Outbox:
    def __init__(self, key: BusKey, waiting: list[OutboxItem]) -> None:
        self.key = key
        self.waiting = list(waiting)
        self._count = 0
        self.failures = 0

    @property
    def empty(self) -> bool:
        return not self.waiting

    def put(self, event: Event, *, once: str | None = None) -> None:
        """Queue `event` for the bus; `once` defaults to a key unique to this put."""
        if once is None:
            # Counted per run: deterministic on replay, and no random draw that would shift
            # the ids the workflow draws after it.
            self._count += 1
            once = f"{workflow.info().run_id}:{self._count}"
        self.waiting.append(OutboxItem(event, once, current_carrier()))
        if len(self.waiting) > MAX_WAITING:
            dropped = self.waiting.pop(0)
            workflow.logger.warning("event bus down too long: dropped %s", dropped.event.type)

    async def deliver_forever(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self.waiting))
            item = self.waiting[0]
            try:
                with attached(item.trace_context):
                    await workflow.execute_local_activity_method(
                        SessionActivities.publish_event,
                        PublishInput(str(self.key), item.event, item.once),
                        start_to_close_timeout=timedelta(seconds=5),
                        retry_policy=RETRY,
                    )
            except (ActivityError, ApplicationError) as err:  # a local activity's last failure
                self.failures += 1
                if self.failures == 1:
                    workflow.logger.warning("event bus unavailable, events wait: %s", err)
                await workflow.sleep(min(0.25 * 2**self.failures, MAX_PAUSE_S))
                continue
            self.failures = 0
            if self.waiting and self.waiting[0] is item:
                self.waiting.pop(0)
