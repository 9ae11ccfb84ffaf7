"""Reading back: the tenant's sessions (`GET /v1/sessions`) and a session's turns, a page at a
time (`GET /v1/sessions/{sid}/turns`), so a client can rebuild a conversation after the bus's
replay log has expired."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.sessions import TranscriptRequest
from services.gateway.ids import valid_ref_id, valid_session_id
from services.gateway.models import (
    SessionList,
    SessionSummaryOut,
    TranscriptOut,
)
from services.gateway.problems import Problem
from services.gateway.routes.paths import session_id
from services.gateway.session_list import Cursor, SessionSummary, rfc3339
from services.gateway.state import gateway, principal

PAGE_SIZE = (1, 100, 20)  # min, max, default of `page_size`
TURNS_LIMIT = (1, 100, 50)  # of `limit`


def bounded_int(request: Request, name: str, bounds: tuple[int, int, int]) -> int:
    low, high, default = bounds
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise Problem(422, f"invalid-{name.replace('_', '-')}", f"{name} is {low}-{high}.")
    return int(raw)


async def list_sessions(request: Request) -> Response:
    gw, who = gateway(request), principal(request)
    size = bounded_int(request, "page_size", PAGE_SIZE)
    user_id = request.query_params.get("user_id")
    if user_id is not None and not valid_session_id(user_id):
        raise Problem(
            422, "invalid-user-id", "A user id is 1-128 letters, digits, `_`, `.`, `:` or `-`."
        )
    token = request.query_params.get("page_token")
    cursor = None
    if token is not None:
        try:
            cursor = Cursor.from_token(token)
        except ValueError:
            raise Problem(
                400, "invalid-page-token", "page_token is not a next_page_token of this API."
            ) from None
    page = await gw.sessions.list_sessions(who.tenant_id, user_id, size, cursor)
    body = SessionList(
        sessions=[_summary_out(s) for s in page.sessions],
        next_page_token=page.next_cursor.token() if page.next_cursor else None,
    )
    return JSONResponse(body.model_dump())


def _summary_out(summary: SessionSummary) -> SessionSummaryOut:
    return SessionSummaryOut(
        session_id=summary.session_id,
        agent=summary.agent,
        user_id=summary.user_id,
        created_at=rfc3339(summary.created_at),
        status="active" if summary.active else "ended",
        title=summary.title,
    )


async def session_turns(request: Request) -> Response:
    gw, who = gateway(request), principal(request)
    sid = session_id(request)
    limit = bounded_int(request, "limit", TURNS_LIMIT)
    before = request.query_params.get("before")
    if before is not None and not valid_ref_id(before):
        raise Problem(422, "invalid-before", "before is a turn id (a `next_before`).")
    request_page = TranscriptRequest(limit=limit, before=before)
    page = await gw.sessions.transcript(who.tenant_id, sid, request_page)
    return JSONResponse(TranscriptOut.of(page).model_dump(mode="json"))


ROUTES = [
    Route("/v1/sessions/{sid}/turns", session_turns, methods=["GET"], name="session_turns"),
]
