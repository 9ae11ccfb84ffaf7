"""Session endpoints: create, list, read, end, send a message, cancel a turn, decide an approval."""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import UTC, datetime

from opentelemetry import propagate
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.logs import set_ids
from services.common.sessions import (
    ApprovalDecision,
    BusKey,
    CancelRequest,
    EndRequest,
    SessionStart,
    TurnReceipt,
    TurnRequest,
)
from services.gateway.bodies import read_model
from services.gateway.ids import idempotent_turn_id, new_session_id, valid_idempotency_key
from services.gateway.models import (
    ApprovalBody,
    CancelAccepted,
    CancelBody,
    CreateSession,
    SendMessage,
    SessionCreated,
    SessionOut,
    TurnAccepted,
)
from services.gateway.problems import TYPE_PREFIX, Problem
from services.gateway.routes import listing
from services.gateway.routes.agents import require_team
from services.gateway.routes.paths import ref_id, session_id
from services.gateway.state import Gateway, gateway, principal
from services.gateway.streams import OpenStream, TurnEnd, replay_if_turn_over, sse_response

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
# The session itself refused the turn (a 502): it was not queued, however it is retried.
SESSION_ERROR = f"{TYPE_PREFIX}session-error"


def events_url(sid: str, turn_id: str | None = None) -> str:
    url = f"/v1/sessions/{sid}/events"
    return f"{url}?turn_id={turn_id}" if turn_id else url


def wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "").lower()


async def create_session(request: Request) -> Response:
    gw, who = gateway(request), principal(request)
    body = await read_model(
        request, CreateSession, gw.settings.gateway_max_body_bytes, empty_ok=True
    )
    await require_team(request, body.agent)
    sid = new_session_id()
    start = SessionStart(
        session_id=sid,
        tenant_id=who.tenant_id,
        user_id=body.user_id or sid,
        agent=body.agent,
        metadata=body.metadata,
        timezone=body.timezone,
    )
    await gw.sessions.create(start)
    created = SessionCreated(
        session_id=sid,
        agent=start.agent,
        user_id=start.user_id,
        events_url=events_url(sid),
        messages_url=f"/v1/sessions/{sid}/messages",
    )
    return JSONResponse(
        created.model_dump(), status_code=201, headers={"Location": f"/v1/sessions/{sid}"}
    )


async def sessions_collection(request: Request) -> Response:
    if request.method == "POST":
        return await create_session(request)
    return await listing.list_sessions(request)


async def get_session(request: Request) -> Response:
    gw, who = gateway(request), principal(request)
    status = await gw.sessions.status(who.tenant_id, session_id(request))
    return JSONResponse(SessionOut.of(status).model_dump(mode="json"))


async def end_session(request: Request) -> Response:
    gw, who = gateway(request), principal(request)
    await gw.sessions.end(who.tenant_id, session_id(request), EndRequest(reason="ended by client"))
    return Response(status_code=204)


async def session_resource(request: Request) -> Response:
    if request.method == "DELETE":
        return await end_session(request)
    return await get_session(request)


def _idempotency_key(request: Request) -> tuple[str, bool]:
    """The request's Idempotency-Key, or one made for it, and whether the client sent it (so the
    turn may exist already). Every turn's id comes from a key: a submit whose outcome is unknown
    (a timeout) can be sent again with the key and is then not run twice."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return f"gen_{uuid.uuid4().hex}", False
    if not valid_idempotency_key(key):
        raise Problem(400, "invalid-idempotency-key", "Idempotency-Key is 1-255 printable ASCII.")
    return key, True


async def _submit(
    gw: Gateway, start: SessionStart, turn: TurnRequest, idempotency_key: str
) -> TurnReceipt:
    """Submit the turn. A failure that leaves it unknown whether the session took the turn (a
    timeout, a lost or cancelled RPC, anything unexpected) answers with the turn id and the key
    to send it again with; an answer without them means the turn was not queued.

    The submit waits for a slot of the process's admission limit; with none free in time it is
    a 429 `overloaded` (admission.py), the turn not queued."""
    try:
        async with gw.admission.slot():
            return await gw.sessions.submit(start, turn)
    except Problem as problem:
        if problem.status < 500 or problem.type == SESSION_ERROR:
            raise  # the session answered: the turn was refused, not queued
        unknown = problem
    except Exception:
        log.exception("submitting turn %s failed", turn.turn_id)
        unknown = Problem(500, "internal", "An unexpected error occurred.")
    raise unknown.amended(
        detail=f"{unknown.detail or unknown.title} The turn may have been queued: send the "
        f"same request again with Idempotency-Key: {idempotency_key} to get turn "
        f"{turn.turn_id} (it runs at most once).",
        headers={IDEMPOTENCY_HEADER: idempotency_key},
        turn_id=turn.turn_id,
        idempotency_key=idempotency_key,
    )


async def send_message(request: Request) -> Response:
    gw, who = gateway(request), principal(request)
    sid = session_id(request, creating=True)
    body = await read_model(request, SendMessage, gw.settings.gateway_max_body_bytes)
    idempotency_key, keyed = _idempotency_key(request)
    turn_id = idempotent_turn_id(who.tenant_id, sid, idempotency_key)
    set_ids(turn_id=turn_id)
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    turn = TurnRequest(
        turn_id=turn_id,
        input=body.input,
        on_busy=body.on_busy,
        trace_context=carrier,
        submitted_at=datetime.now(UTC).isoformat(),
    )
    start = SessionStart(session_id=sid, tenant_id=who.tenant_id, user_id=sid)
    if not wants_stream(request):
        receipt = await _submit(gw, start, turn, idempotency_key)
        accepted = TurnAccepted.of(receipt, events_url(sid, receipt.turn_id))
        return JSONResponse(
            accepted.model_dump(mode="json"),
            status_code=202,
            headers={"Location": accepted.events_url},
        )
    # Subscribe before submitting, so the turn's first event cannot slip past. A keyed turn may
    # be a retry of one that already ran: read it from the start of the log.
    key = BusKey(who.tenant_id, sid)
    stream = await OpenStream.open(gw.fanout, gw.slots, who, key, "0" if keyed else None)
    ask = functools.partial(gw.sessions.finished_turn, who.tenant_id, sid, turn_id)
    turn_end = TurnEnd(key, gw.fanout.bus, ask)
    try:
        receipt = await _submit(gw, start, turn, idempotency_key)
        # A retry of a turn that is over, whose end may have left the log: replay what the log
        # holds, then end (`stream.gap` and the end from the session's record, not a wait for
        # an end that is gone). Temporal answers a retried Update with its first outcome, whose
        # status may be stale; only an answer to this very request says the turn is new (then
        # nothing is asked: a new session's first turn has no log yet).
        if keyed and not receipt.answers(turn):
            await replay_if_turn_over(stream, turn_end)
    except BaseException:
        await stream.close()
        raise
    headers = {"X-Session-Id": sid, "X-Turn-Id": receipt.turn_id}
    return sse_response(
        stream, gw.stream_options, turn_id=receipt.turn_id, turn_end=turn_end, headers=headers
    )


async def cancel_turn(request: Request) -> Response:
    gw, who = gateway(request), principal(request)
    sid = session_id(request)
    tid = ref_id(request, "tid", "unknown-turn")
    body = await read_model(request, CancelBody, gw.settings.gateway_max_body_bytes, empty_ok=True)
    receipt = await gw.sessions.cancel(
        who.tenant_id, sid, CancelRequest(turn_id=tid, reason=body.reason)
    )
    return JSONResponse(CancelAccepted.of(receipt).model_dump(mode="json"), status_code=202)


async def decide_approval(request: Request) -> Response:
    gw, who = gateway(request), principal(request)
    sid = session_id(request)
    aid = ref_id(request, "aid", "unknown-approval")
    body = await read_model(request, ApprovalBody, gw.settings.gateway_max_body_bytes)
    decision = ApprovalDecision(approval_id=aid, approve=body.approve, reason=body.reason)
    await gw.sessions.decide(who.tenant_id, sid, decision)
    return Response(status_code=204)


ROUTES = [
    # One route per path, so a 405 lists every method the path takes in `Allow`.
    Route("/v1/sessions", sessions_collection, methods=["GET", "POST"], name="sessions"),
    Route("/v1/sessions/{sid}", session_resource, methods=["GET", "DELETE"], name="session"),
    Route("/v1/sessions/{sid}/messages", send_message, methods=["POST"], name="send_message"),
    Route(
        "/v1/sessions/{sid}/turns/{tid}/cancel", cancel_turn, methods=["POST"], name="cancel_turn"
    ),
    Route(
        "/v1/sessions/{sid}/approvals/{aid}",
        decide_approval,
        methods=["POST"],
        name="decide_approval",
    ),
    *listing.ROUTES,
]
