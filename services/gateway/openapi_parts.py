"""The pieces the OpenAPI document (services/gateway/openapi.py) is assembled from: schema
references, problem responses, path and query parameters, the SSE and submit responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.common.events import EVENT_TYPES
from services.common.sessions import MAX_QUEUED_TURNS
from services.common.teams import TeamList
from services.gateway.ids import (
    EVENT_ID_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    REF_ID_PATTERN,
    SESSION_ID_PATTERN,
)
from services.gateway.models import (
    ApprovalBody,
    CancelAccepted,
    CancelBody,
    CreateSession,
    Health,
    ProblemDetails,
    SendMessage,
    SessionCreated,
    SessionList,
    SessionOut,
    TranscriptOut,
    TurnAccepted,
)

REF = "#/components/schemas/{model}"
REQUEST_MODELS: tuple[type[BaseModel], ...] = (CreateSession, SendMessage, CancelBody, ApprovalBody)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    TeamList,
    SessionCreated,
    SessionOut,
    SessionList,
    TranscriptOut,
    TurnAccepted,
    CancelAccepted,
    Health,
    ProblemDetails,
)

PROBLEM_TEXT = {
    400: "Malformed request (JSON, header, event id or page token)",
    401: "Missing or invalid API key",
    404: "No such session (or another tenant's), turn or approval",
    409: "The session is busy (on_busy=reject) or ended, or the turn already finished",
    413: "Body or input too large",
    415: "The body is not JSON",
    422: "The body or a query parameter does not match the schema",
    429: "Rate limited (see Retry-After)",
    502: "The session answered with an unexpected error",
    503: "Temporal or Redis unavailable (see Retry-After)",
}
COMMON = (401, 429, 503)


def _schema(model: type[BaseModel], mode: str) -> dict[str, Any]:
    return model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _problems(*codes: int) -> dict[str, Any]:
    return {
        str(code): {
            "description": PROBLEM_TEXT[code],
            "content": {"application/problem+json": {"schema": _ref(ProblemDetails)}},
        }
        for code in sorted({*codes, *COMMON})
    }


def _body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(model)}}}


def _path(name: str, pattern: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


SID = _path("sid", SESSION_ID_PATTERN, "Session id")


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


LIST_PARAMETERS = [
    _query(
        "user_id",
        "Only this user's sessions (the `user_id` they were created with)",
        {"type": "string", "pattern": SESSION_ID_PATTERN},
    ),
    _query(
        "page_size",
        "Sessions per page",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    ),
    _query(
        "page_token",
        "The `next_page_token` of the previous page (opaque); a token not made by this API "
        "is a 400",
        {"type": "string", "minLength": 1},
    ),
]
TURNS_PARAMETERS = [
    _query(
        "limit",
        "Turns per page",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
    ),
    _query(
        "before",
        "The `next_before` of the previous page: the turns before that turn. A turn the "
        "session no longer keeps gives an empty page",
        {"type": "string", "pattern": REF_ID_PATTERN},
    ),
]
SSE = {
    "description": "Server-sent events: `id` is the bus id, `event` the event type, `data` JSON",
    "content": {
        "text/event-stream": {
            # One event (OpenAPI 3.2 `itemSchema` style); heartbeats are comments.
            "schema": {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "id": {"type": "string", "pattern": EVENT_ID_PATTERN},
                    "event": {"type": "string", "enum": list(EVENT_TYPES)},
                    "data": {"type": "string", "contentMediaType": "application/json"},
                },
            }
        }
    },
}


# A submit whose outcome is unknown names its turn and the key to send it again with.
SUBMIT_UNAVAILABLE = {
    "description": "Temporal or Redis unavailable (see Retry-After). With `turn_id` and "
    "`idempotency_key` in the body, the turn may have been queued: send the same request "
    "again with that Idempotency-Key to get it (it runs at most once); without them it was "
    "not queued.",
    "headers": {
        "Retry-After": {"schema": {"type": "string"}},
        "Idempotency-Key": {
            "description": "The key to send the request again with (when `turn_id` is set)",
            "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
        },
    },
    "content": {"application/problem+json": {"schema": _ref(ProblemDetails)}},
}


# A turn refused by the rate limit, the session's full queue or the process's admission limit
# (admission.py): never queued, so it is sent again after Retry-After with the same key.
SUBMIT_TOO_MANY = {
    "description": "Not queued; send the same request again after Retry-After (with the same "
    "Idempotency-Key). `overloaded`: the platform is at capacity (turns are being accepted "
    f"more slowly than the gateway's target); `session-queue-full`: {MAX_QUEUED_TURNS} turns "
    "already wait in the session; `rate-limited`: over the API key's requests per minute; "
    "`too-many-streams` (a streamed message): the API key's streams are all open.",
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before sending it again",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
    "content": {"application/problem+json": {"schema": _ref(ProblemDetails)}},
}
