"""Who a tool call is for: read out of band from the request, never from a tool argument.

The worker puts `{"user_id", "tenant_id", "timezone"}` in the request `_meta`; clients that cannot
set `_meta` send `X-User-Id`, `X-Tenant-Id` (and `X-Timezone`) headers. With neither, the call is
refused: there is no shared default user.

Either source is a claim, trusted only because the request reached the tools at all: auth.py
turns away every request without the worker's bearer token before it gets here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+\-]{0,199}$")


class IdentityError(ValueError):
    """The request carries no usable identity."""


@dataclass(frozen=True, slots=True)
class UserKey:
    """Identity is the pair: the same user_id under two tenants is two users."""

    tenant_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    user: UserKey
    timezone: ZoneInfo


def _clean_id(value: Any, name: str, source: str) -> str:
    if not isinstance(value, str) or not _ID.match(value.strip()):
        raise IdentityError(
            f"{name} from {source} must be 1-200 letters, digits or ._:@+- (got {value!r})"
        )
    return value.strip()


def _timezone(value: Any, source: str) -> ZoneInfo:
    if value in (None, ""):
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise IdentityError(f"timezone from {source} is not an IANA zone: {value!r}") from exc


def caller_identity(
    meta: Mapping[str, Any] | None, headers: Mapping[str, str] | None
) -> CallerIdentity:
    """The caller from `_meta` when it names a user, else from the X-User-Id/X-Tenant-Id headers.

    The two sources are never mixed: a user_id from one and a tenant_id from the other could
    name a user neither side meant.
    """
    meta = meta or {}
    if meta.get("user_id") is not None or meta.get("tenant_id") is not None:
        source, user_id, tenant_id, tz = (
            "_meta",
            meta.get("user_id"),
            meta.get("tenant_id"),
            meta.get("timezone"),
        )
    elif headers is not None and (headers.get("x-user-id") or headers.get("x-tenant-id")):
        source, user_id, tenant_id, tz = (
            "headers",
            headers.get("x-user-id"),
            headers.get("x-tenant-id"),
            headers.get("x-timezone"),
        )
    else:
        raise IdentityError(
            "no user identity: send user_id and tenant_id in the request _meta "
            "(or the X-User-Id and X-Tenant-Id headers)"
        )
    if user_id is None or tenant_id is None:
        missing = "user_id" if user_id is None else "tenant_id"
        raise IdentityError(f"{missing} is missing from the request {source}")
    user = UserKey(
        tenant_id=_clean_id(tenant_id, "tenant_id", source),
        user_id=_clean_id(user_id, "user_id", source),
    )
    return CallerIdentity(user=user, timezone=_timezone(tz, source))


def idempotency_key(
    meta: Mapping[str, Any] | None, headers: Mapping[str, str] | None
) -> str | None:
    """The caller's key for "this exact call" (`_meta.idempotency_key` or `Idempotency-Key`).

    The worker can send the model's tool-call id, so a retried activity never logs a meal twice.
    """
    value = (meta or {}).get("idempotency_key")
    if value is None and headers is not None:
        value = headers.get("idempotency-key")
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 200:
        raise IdentityError("idempotency_key must be a string of 1-200 characters")
    return value.strip()
