"""Path parameters, validated: a malformed id names nothing, so it is a 404 (or 422 to create)."""

from __future__ import annotations

from starlette.requests import Request

from services.common.logs import set_ids
from services.gateway.ids import valid_ref_id, valid_session_id
from services.gateway.problems import Problem
from services.gateway.temporal import session_not_found


def session_id(request: Request, *, creating: bool = False) -> str:
    value: str = request.path_params["sid"]
    if not valid_session_id(value):
        if creating:
            raise Problem(
                422,
                "invalid-session-id",
                "A session id is 1-128 letters, digits, `_`, `.`, `:` or `-`.",
            )
        raise session_not_found(value)
    set_ids(session_id=value)  # the request's log lines name the session
    return value


def ref_id(request: Request, name: str, slug: str) -> str:
    value: str = request.path_params[name]
    if not valid_ref_id(value):
        raise Problem(404, slug, f"No {name} {value!r}.")
    return value
