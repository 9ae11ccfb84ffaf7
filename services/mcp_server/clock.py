"""The time source the tools use, injectable so tests can cross a day boundary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_date(clock: Clock, timezone: ZoneInfo) -> dt.date:
    """The user's calendar date now: what decides which day an entry belongs to."""
    return clock().astimezone(timezone).date()
