"""The event bus as the worker's publishers see it (`publish_batch`), with no Redis: it logs what
it took; `down` failures raise first; `gate`, when set, holds each batch on the wire until it is
opened. Shared by the unit tests of the publisher and of the activities."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from services.common.bus import RawPublish
from services.common.events import MessageDelta, parse_event
from services.common.sessions import BusKey

KEY = BusKey("t", "s_1")


class FakeBus:
    def __init__(self) -> None:
        self.log: list[RawPublish] = []
        self.batches: list[list[str]] = []
        self.attempts = 0
        self.down: list[BaseException] = []
        self.gate: asyncio.Event | None = None

    async def publish_batch(self, key: BusKey, events: Sequence[RawPublish]) -> list[str]:
        assert key == KEY
        self.attempts += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise self.down.pop(0)
        self.log += events
        self.batches.append([self._name(event) for event in events])
        return [f"{n}-0" for n in range(len(self.log) - len(events) + 1, len(self.log) + 1)]

    def published(self) -> list[tuple[dict[str, Any], str | None]]:
        """Each event taken, as its type and fields (without `ts` and `session_id`), with its
        `once` key."""
        return [
            (parse_event(raw.data).model_dump(exclude={"ts", "session_id"}), raw.once)
            for raw in self.log
        ]

    @staticmethod
    def _name(raw: RawPublish) -> str:
        event = parse_event(raw.data)
        return event.text if isinstance(event, MessageDelta) else event.type
