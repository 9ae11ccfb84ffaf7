"""The OpenAPI 3.1 document, built from the same pydantic models that validate the bodies."""

from __future__ import annotations

import zoneinfo
from functools import cache
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


def _operations() -> dict[str, Any]:
    return {
        "/v1/sessions": {
            "get": {
                "operationId": "listSessions",
                "summary": "The tenant's sessions, newest first",
                "description": "Newest first by creation time, a page at a time; `status` is "
                "`active` until the session is ended. Sessions show a moment after they are "
                "created (Temporal's visibility store is eventually consistent).",
                "parameters": LIST_PARAMETERS,
                "responses": {"200": _json(SessionList, "A page"), **_problems(400, 422, 502)},
            },
            "post": {
                "operationId": "createSession",
                "summary": "Start a session",
                "requestBody": _body(CreateSession, required=False),
                "responses": {
                    "201": _json(SessionCreated, "The session was started"),
                    **_problems(400, 409, 413, 415, 422),
                },
            },
        },
        "/v1/sessions/{sid}": {
            "parameters": [SID],
            "get": {
                "operationId": "getSession",
                "summary": "The session's status and turns",
                "description": "Every turn the session keeps (inputs and tool calls included; "
                "after continue-as-new its 50 newest, fewer when their texts are long); "
                "`GET /v1/sessions/{sid}/turns` pages through them.",
                "responses": {"200": _json(SessionOut, "Status"), **_problems(404, 502)},
            },
            "delete": {
                "operationId": "endSession",
                "summary": "End the session",
                "responses": {"204": {"description": "Ended"}, **_problems(404, 409, 502)},
            },
        },
        "/v1/sessions/{sid}/messages": {
            "parameters": [SID],
            "post": {
                "operationId": "sendMessage",
                "summary": "Submit a turn (starts the session when it does not exist yet)",
                "description": "With `Accept: text/event-stream`, the answer is the turn's "
                "events, ending with its terminal event.",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "A retry with the same key gets the original turn. "
                        "Without one the gateway makes one, and names it in a 503 that leaves "
                        "the turn's fate unknown",
                        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                    }
                ],
                "requestBody": _body(SendMessage),
                "responses": {
                    "200": SSE,
                    "202": _json(TurnAccepted, "The turn was accepted"),
                    **_problems(400, 409, 413, 415, 422, 502),
                    "429": SUBMIT_TOO_MANY,
                    "503": SUBMIT_UNAVAILABLE,
                },
            },
        },
        "/v1/sessions/{sid}/events": {
            "parameters": [SID],
            "get": {
                "operationId": "sessionEvents",
                "summary": "The session's events over SSE, resumable",
                "parameters": [
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "description": (
                            "Resume after this event id (`ms-seq`, each part at most 2^64-1; "
                            "a larger one is a 400)"
                        ),
                        "schema": {"type": "string", "pattern": EVENT_ID_PATTERN},
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "required": False,
                        "description": (
                            "Resume after this event id (when no Last-Event-ID; the same bounds)"
                        ),
                        "schema": {"type": "string", "pattern": EVENT_ID_PATTERN},
                    },
                    {
                        "name": "turn_id",
                        "in": "query",
                        "required": False,
                        "description": "Only this turn's events (from its start), then close",
                        "schema": {"type": "string", "pattern": REF_ID_PATTERN},
                    },
                ],
                "responses": {"200": SSE, **_problems(400, 404, 409, 502)},
            },
        },
        "/v1/sessions/{sid}/turns": {
            "parameters": [SID],
            "get": {
                "operationId": "sessionTurns",
                "summary": "The transcript: the session's turns, newest page first",
                "description": "Each turn's input, final output, tool calls and status; a "
                "page is the `limit` newest turns before `before`, oldest first. A session keeps "
                "its 50 newest turns across continue-as-new (fewer when their texts are long); "
                "a turn keeps its first 16 tool calls, each text shortened.",
                "parameters": TURNS_PARAMETERS,
                "responses": {
                    "200": _json(TranscriptOut, "A page of turns"),
                    **_problems(404, 422, 502),
                },
            },
        },
        "/v1/sessions/{sid}/turns/{tid}/cancel": {
            "parameters": [SID, _path("tid", REF_ID_PATTERN, "Turn id")],
            "post": {
                "operationId": "cancelTurn",
                "summary": "Cancel a queued or running turn",
                "requestBody": _body(CancelBody, required=False),
                "responses": {
                    "202": _json(CancelAccepted, "Cancellation accepted"),
                    **_problems(400, 404, 409, 413, 415, 422, 502),
                },
            },
        },
        "/v1/sessions/{sid}/approvals/{aid}": {
            "parameters": [SID, _path("aid", REF_ID_PATTERN, "Approval id")],
            "post": {
                "operationId": "decideApproval",
                "summary": "Approve or deny a tool call",
                "requestBody": _body(ApprovalBody),
                "responses": {
                    "204": {"description": "Decided"},
                    **_problems(400, 404, 409, 413, 415, 422, 502),
                },
            },
        },
        "/v1/agents": {
            "get": {
                "operationId": "listAgents",
                "summary": "The agent teams the workers serve (name, agents, tools)",
                "description": "The teams in the workers' team files, with the tools their MCP "
                "servers offer; `name` is what `POST /v1/sessions` takes as `agent`.",
                "responses": {"200": _json(TeamList, "The teams"), **_problems()},
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness",
                "security": [],
                "responses": {"200": _json(Health, "The process is up")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: Temporal and Redis answer",
                "security": [],
                "responses": {
                    "200": _json(Health, "Ready"),
                    "503": _problems(503)["503"],
                },
            }
        },
    }


@cache
def _time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _narrow_create_session(schema: dict[str, Any], agents: frozenset[str]) -> None:
    """What the gateway accepts, exactly: this deployment's agents and the known time zones."""
    properties = schema["properties"]
    if agents:  # GATEWAY_AGENTS; unset, every team the workers publish (GET /v1/agents)
        properties["agent"] = {**properties["agent"], "enum": sorted(agents)}
    zones = {"type": "string", "enum": _time_zones()}
    properties["timezone"] = {**properties["timezone"], "anyOf": [zones, {"type": "null"}]}


@cache
def openapi_document(agents: frozenset[str] = frozenset({"nutrisense"})) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for models, mode in ((REQUEST_MODELS, "validation"), (RESPONSE_MODELS, "serialization")):
        for model in models:
            schema = _schema(model, mode)
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
    _narrow_create_session(schemas["CreateSession"], agents)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Durable Agents gateway",
            "version": "1.0.0",
            "description": "Durable LLM agent sessions: REST to talk, SSE to listen. "
            "Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": _operations(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key"}
            },
        },
    }
