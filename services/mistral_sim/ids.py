"""Identifiers and timestamps in the formats the real API uses (reference §4.5)."""

from __future__ import annotations

import secrets
import string
import time
from datetime import UTC, datetime

_ALNUM = string.ascii_letters + string.digits


def uuid7_hex() -> str:
    """32 hex digits of a UUIDv7: time-ordered, so ids sort by creation like the real ones."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return f"{value:032x}"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid7_hex()}"


def tool_call_id() -> str:
    """Nine alphanumerics, like the `tool_calls[].id` values the real API returns."""
    return "".join(secrets.choice(_ALNUM) for _ in range(9))


def hex_id() -> str:
    """A chat completion id: 32 hex digits with no prefix."""
    return secrets.token_hex(16)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`2026-10-05T14:45:48.416223Z`, the real API's timestamp spelling."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return iso(utcnow())
