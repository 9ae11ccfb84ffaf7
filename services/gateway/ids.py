"""Session and turn ids: what a valid one looks like and how new ones are made."""

from __future__ import annotations

import hashlib
import re
import uuid

from services.common.bus import InvalidEventId, parse_id

# A session id is chosen by the gateway (`ses_...`) or by the client on its first message.
SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
# Turn and approval ids come from the gateway and the worker: the same shape.
REF_ID_PATTERN = SESSION_ID_PATTERN
# A bus (Redis stream) id, `ms-seq` or `ms`: what Last-Event-ID and ?after= carry. The pattern
# is the shape; valid_event_id also bounds each part to 2^64-1, as Redis does.
EVENT_ID_PATTERN = r"^[0-9]{1,20}(-[0-9]{1,20})?$"
# Printable ASCII, as the IETF Idempotency-Key draft and Stripe allow.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"

_SESSION_RE = re.compile(SESSION_ID_PATTERN)
_IDEMPOTENCY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)
_EVENT_ID_RE = re.compile(EVENT_ID_PATTERN)


def new_session_id() -> str:
    return f"ses_{uuid.uuid4().hex}"


def idempotent_turn_id(tenant_id: str, session_id: str, key: str) -> str:
    """The same (tenant, session, key) always names the same turn: a retry finds the original."""
    digest = hashlib.sha256(f"{tenant_id}\x00{session_id}\x00{key}".encode()).hexdigest()
    return f"turn_{digest[:32]}"


def valid_session_id(value: str) -> bool:
    return _SESSION_RE.fullmatch(value) is not None


valid_ref_id = valid_session_id


def valid_idempotency_key(value: str) -> bool:
    return _IDEMPOTENCY_RE.fullmatch(value) is not None


# The largest stream id: nothing can come after it, and Redis refuses it as an exclusive start.
_LAST_EVENT_KEY = (2**64 - 1, 2**64 - 1)


def valid_event_id(value: str) -> bool:
    """A point to resume after: a bus id Redis accepts (each part <= 2^64-1), not the last one.

    Anything else must be a 400 here: let through, Redis refuses it once the 200 has been sent,
    the stream drops, and an EventSource reconnects with the same id for ever.
    """
    if _EVENT_ID_RE.fullmatch(value) is None:
        return False
    try:
        return parse_id(value) != _LAST_EVENT_KEY
    except InvalidEventId:
        return False
