"""Reading a fan-out subscription in tests: the next events, or up to a delta's text."""

from __future__ import annotations

import asyncio

from services.common.bus import BusEvent
from services.common.events import parse_event
from services.gateway.fanout import Subscription


def text_of(event: BusEvent) -> str:
    """A delta's text, else the event's type."""
    return str(getattr(parse_event(event.data), "text", event.type))


async def take(sub: Subscription, count: int, within: float = 20.0) -> list[BusEvent]:
    """The next `count` events of `sub` (fails on timeout)."""
    events: list[BusEvent] = []

    async def run() -> None:
        async for event in sub:
            events.append(event)
            if len(events) == count:
                return

    await asyncio.wait_for(run(), within)
    return events


async def take_until(sub: Subscription, last_text: str, within: float = 20.0) -> list[BusEvent]:
    """Events of `sub` up to and including the delta whose text is `last_text`."""
    events: list[BusEvent] = []

    async def run() -> None:
        async for event in sub:
            events.append(event)
            if text_of(event) == last_text:
                return

    await asyncio.wait_for(run(), within)
    return events
