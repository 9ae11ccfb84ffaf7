"""The OpenAPI 3.1 document, built from the same pydantic models that validate the bodies."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from services.common.teams import TeamList
from services.gateway.ids import (
    EVENT_ID_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    REF_ID_PATTERN,
)
from services.gateway.models import (
    ApprovalBody,
    CancelAccepted,
    CancelBody,
    CreateSession,
    Health,
    SendMessage,
    SessionCreated,
    SessionList,
    SessionOut,
    TranscriptOut,
    TurnAccepted,
)
from services.gateway.openapi_parts import (
    LIST_PARAMETERS,
    REQUEST_MODELS,
    RESPONSE_MODELS,
    SID,
    SSE,
    SUBMIT_TOO_MANY,
    SUBMIT_UNAVAILABLE,
    TURNS_PARAMETERS,
    _body,
    _json,
    _path,
    _problems,
    _schema,
)


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
