"""`GET /v1/sessions/{sid}/events`: the session's events over SSE, resumable by id."""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.common.sessions import BusKey
from services.gateway.ids import valid_event_id, valid_ref_id
from services.gateway.problems import Problem
from services.gateway.routes.paths import session_id
from services.gateway.state import gateway, principal
from services.gateway.streams import OpenStream, TurnEnd, replay_if_turn_over, sse_response
from services.gateway.temporal import session_ended


def resume_point(request: Request, turn_id: str | None) -> str | None:
    """Where to resume: Last-Event-ID (a reconnecting EventSource sends it), else `?after=`.

    With neither, a stream of one turn starts at the start of the log (the whole turn), and a
    stream of the whole session with only new events. Either one malformed is a 400.
    """
    header = request.headers.get("last-event-id")
    query = request.query_params.get("after")
    for value in (header, query):
        if value is not None and not valid_event_id(value):
            raise Problem(400, "invalid-event-id", "Last-Event-ID / after is not an event id.")
    after = header if header is not None else query
    if after is not None:
        return after
    return "0" if turn_id is not None else None


async def session_events(request: Request) -> Response:
    gw, who = gateway(request), principal(request)
    sid = session_id(request)
    turn_id = request.query_params.get("turn_id")
    if turn_id is not None and not valid_ref_id(turn_id):
        raise Problem(400, "invalid-turn-id", "turn_id is not a turn id.")
    after = resume_point(request, turn_id)
    # Temporal's describe proves the session is this tenant's before anything is streamed. It
    # needs no worker (a query would): a client resumes its stream while no worker runs.
    is_open = await gw.sessions.is_open(who.tenant_id, sid)
    if not is_open and after is None:
        # Nothing new will ever come; a resume id still replays what the client missed.
        raise session_ended(sid)
    key = BusKey(who.tenant_id, sid)
    stream = await OpenStream.open(gw.fanout, gw.slots, who, key, after)
    turn_end = None
    if turn_id is not None:
        ask = functools.partial(gw.sessions.finished_turn, who.tenant_id, sid, turn_id)
        turn_end = TurnEnd(key, gw.fanout.bus, ask)
    try:
        if not is_open:
            stream.replay_only()  # an ended session publishes nothing more
        elif turn_end is not None:
            await replay_if_turn_over(stream, turn_end)
    except BaseException:
        await stream.close()
        raise
    return sse_response(
        stream,
        gw.stream_options,
        turn_id=turn_id,
        turn_end=turn_end,
        headers={"X-Session-Id": sid},
    )


ROUTES = [Route("/v1/sessions/{sid}/events", session_events, methods=["GET"], name="events")]
