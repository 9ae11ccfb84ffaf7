"""Problems, ids, bodies and the Temporal error mapping, without servers."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from starlette.requests import Request
from temporalio.exceptions import ApplicationError

from services.common.sessions import SessionErrors
from services.gateway.bodies import read_model
from services.gateway.ids import (
    idempotent_turn_id,
    new_session_id,
    valid_event_id,
    valid_session_id,
)
from services.gateway.models import CreateSession, SendMessage
from services.gateway.problems import Problem, problem_response
from services.gateway.temporal import application_problem


def request_with(body: bytes, headers: dict[str, str] | None = None) -> Request:
    chunks = [body[i : i + 100] for i in range(0, len(body), 100)] or [b""]

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "POST", "headers": raw, "path": "/"}, receive)


def read(body: bytes, model: Any = SendMessage, **kwargs: Any) -> Any:
    request = request_with(body, kwargs.pop("headers", None))
    kwargs.setdefault("limit", 100_000)
    return asyncio.run(read_model(request, model, **kwargs))


def status_of(body: bytes, model: Any = SendMessage, **kwargs: Any) -> int:
    with pytest.raises(Problem) as caught:
        read(body, model, **kwargs)
    return caught.value.status


def test_problem_response_is_rfc9457() -> None:
    response = problem_response(
        Problem(409, "session-busy", "busy", headers={"Retry-After": "1"}, x=1), "/p"
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert orjson.loads(response.body) == {
        "type": "urn:durable-agents:problem:session-busy",
        "title": "Conflict",
        "status": 409,
        "detail": "busy",
        "instance": "/p",
        "x": 1,
    }
    assert Problem(404).body()["type"] == "about:blank"


def test_ids() -> None:
    assert valid_session_id(new_session_id())
    assert not valid_session_id("a/b")
    assert not valid_session_id("")
    assert not valid_session_id("x" * 129)
    first = idempotent_turn_id("t", "s", "k")
    assert first == idempotent_turn_id("t", "s", "k")
    assert first != idempotent_turn_id("t2", "s", "k") != idempotent_turn_id("t", "s", "k2")


def test_bodies_are_validated() -> None:
    assert read(b'{"input": "hi"}').on_busy == "enqueue"
    assert read(b"", CreateSession, limit=1000, empty_ok=True).agent == "nutrisense"
    assert status_of(b'{"input": "hi"', limit=1000) == 400
    assert status_of(b'"hi"', limit=1000) == 422
    assert status_of(b'{"input": "hi", "on_busy": 1}', limit=1000) == 422
    assert status_of(b'{"timezone": "Nowhere/Land"}', CreateSession, limit=1000) == 422
    assert status_of(b'{"input": "hi"}', limit=1000, headers={"content-type": "text/xml"}) == 415


def test_size_limit_holds_before_parsing() -> None:
    big = orjson.dumps({"input": "x" * 5000})
    assert status_of(big, limit=1024) == 413  # streamed in chunks, no Content-Length
    declared = {"content-length": "999999"}
    assert status_of(b"{}", limit=1024, headers=declared) == 413
    assert status_of(b"{}", limit=1024, headers={"content-length": "x"}) == 400


def test_too_long_input_is_413() -> None:
    with pytest.raises(Problem) as caught:
        read(orjson.dumps({"input": "x" * 40_000}), limit=1_000_000)
    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("error_type", "status"),
    [
        (SessionErrors.BUSY, 409),
        (SessionErrors.ENDED, 409),
        (SessionErrors.TURN_FINISHED, 409),
        (SessionErrors.INPUT_TOO_LARGE, 413),
        (SessionErrors.INVALID_INPUT, 422),
        (SessionErrors.UNKNOWN_TURN, 404),
        (SessionErrors.UNKNOWN_APPROVAL, 404),
        (SessionErrors.QUEUE_FULL, 429),
        ("SomethingElse", 502),
    ],
)
def test_validator_errors_map_to_statuses(error_type: str, status: int) -> None:
    problem = application_problem(ApplicationError("no", type=error_type))
    assert problem.status == status
    assert ("retry-after" in {k.lower() for k in problem.headers}) == (status == 429)


def test_event_ids() -> None:
    assert valid_event_id("1795516256799-0")
    assert valid_event_id("0")
    for bad in ["", "x", "1-", "-1", "1-2-3", "1 2"]:
        assert not valid_event_id(bad)


def test_event_ids_are_bounded_as_redis_bounds_them() -> None:
    top = 2**64 - 1
    for good in [f"{top}-0", f"0-{top}", f"{top}", f"{top - 1}-{top}", f"{top}-{top - 1}"]:
        assert valid_event_id(good), good
    # Each passes the 20-digit pattern; Redis would refuse it after the 200 was sent.
    for bad in [f"{top + 1}-0", f"0-{top + 1}", f"{top + 1}", "9" * 20, f"1-{'9' * 20}"]:
        assert not valid_event_id(bad), bad
    # The last id: Redis refuses it as an exclusive start (nothing can come after it).
    assert not valid_event_id(f"{top}-{top}")
    # What int() would take but Redis's ids are not.
    for bad in ["+1", "1_0", "\u0661", " 1", "1\n", "1-+1"]:
        assert not valid_event_id(bad), repr(bad)
