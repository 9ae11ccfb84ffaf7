"""What a Mistral failure becomes (model.classify, model.lost) and how Retry-After is read."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx2
import pytest
from mistralai.client.errors import SDKError
from temporalio.exceptions import ApplicationError

from services.worker.errors import StepErrors
from services.worker.mistral_client import classify, lost, retry_after

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def http_error(status: int, body: str = "", **headers: str) -> SDKError:
    """An HTTP error as the SDK raises it for an unexpected status."""
    response = httpx2.Response(status, headers=headers, text=body)
    return SDKError("API error occurred", response, body)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.worker.mistral_client.time.time", lambda: NOW)


def test_retry_after_in_seconds() -> None:
    assert retry_after(httpx2.Headers({"Retry-After": "3"})) == timedelta(seconds=3)
    assert retry_after(httpx2.Headers({"retry-after": "0.25"})) == timedelta(milliseconds=250)
    assert retry_after(httpx2.Headers({"Retry-After": " 7 "})) == timedelta(seconds=7)
    assert retry_after(httpx2.Headers({"Retry-After": "0"})) == timedelta(0)
    assert retry_after(httpx2.Headers({"Retry-After": "-5"})) == timedelta(0)


@pytest.mark.usefixtures("frozen_clock")
def test_retry_after_as_an_http_date() -> None:
    in_45_s = "Fri, 15 Jan 2027 08:00:45 GMT"
    assert retry_after(httpx2.Headers({"Retry-After": in_45_s})) == timedelta(seconds=45)
    passed = "Fri, 15 Jan 2027 07:59:00 GMT"
    assert retry_after(httpx2.Headers({"Retry-After": passed})) == timedelta(0)


@pytest.mark.parametrize("value", ["61", "86400", "1e20", "Sat, 16 Jan 2027 08:00:00 GMT"])
def test_a_long_retry_after_waits_a_minute_at_most(value: str) -> None:
    # Six attempts after a day each would hold the turn for a week.
    assert retry_after(httpx2.Headers({"Retry-After": value})) == timedelta(seconds=60)


def test_no_retry_after() -> None:
    assert retry_after(httpx2.Headers()) is None
    assert retry_after(httpx2.Headers({"Retry-After": ""})) is None


def test_the_summary_names_the_status_and_a_bounded_one_line_body() -> None:
    error = classify(http_error(503, "  upstream\noverloaded\n"))
    assert error.message == "Mistral answered HTTP 503: upstream overloaded"
    assert classify(http_error(502)).message == "Mistral answered HTTP 502"
    long = classify(http_error(500, "x" * 1000)).message
    assert long == "Mistral answered HTTP 500: " + "x" * 300


def test_a_429_is_rate_limited_and_retried_after_what_the_server_asked() -> None:
    error = classify(http_error(429, "slow down", **{"Retry-After": "4"}))
    assert isinstance(error, ApplicationError)
    assert error.type == StepErrors.MODEL_RATE_LIMITED
    assert error.message == "Mistral answered HTTP 429: slow down"
    assert error.details == ({"status": 429},)
    assert error.next_retry_delay == timedelta(seconds=4)
    assert not error.non_retryable


def test_a_429_without_a_usable_wait_is_retried_after_one_second() -> None:
    assert classify(http_error(429)).next_retry_delay == timedelta(seconds=1)
    zero = http_error(429, **{"Retry-After": "0"})
    assert classify(zero).next_retry_delay == timedelta(seconds=1)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_request_mistral_refuses_is_not_retried(status: int) -> None:
    error = classify(http_error(status, "bad request"))
    assert error.type == StepErrors.MODEL_REJECTED
    assert error.non_retryable
    assert error.details == ({"status": status},)
    assert error.message == f"Mistral answered HTTP {status}: bad request"
    assert error.next_retry_delay is None


@pytest.mark.parametrize("status", [409, 408, 500, 502, 503, 504])
def test_a_server_side_or_transient_status_is_retried(status: int) -> None:
    error = classify(http_error(status))
    assert error.type == StepErrors.MODEL_UNAVAILABLE
    assert not error.non_retryable
    assert error.details == ({"status": status},)
    assert error.next_retry_delay is None


@pytest.mark.parametrize(
    ("cause", "says"),
    [
        (httpx2.ConnectError("connection refused"), "ConnectError: connection refused"),
        (httpx2.ReadTimeout("timed out"), "ReadTimeout: timed out"),
        (httpx2.RemoteProtocolError("peer closed"), "RemoteProtocolError: peer closed"),
        (ConnectionResetError("reset by peer"), "ConnectionResetError: reset by peer"),
        (TimeoutError("slow"), "TimeoutError: slow"),
    ],
)
def test_an_unreachable_or_dropped_model_is_retried(cause: BaseException, says: str) -> None:
    error = classify(cause)
    assert error.type == StepErrors.MODEL_UNAVAILABLE
    assert not error.non_retryable
    assert error.message == f"Mistral could not be reached or dropped the stream: {says}"
    assert error.details == ()


def test_an_unknown_failure_is_retried_and_named() -> None:
    error = classify(KeyError("usage"))
    assert error.type == StepErrors.MODEL_UNAVAILABLE
    assert not error.non_retryable
    assert error.message == "KeyError: 'usage'"


def test_a_404_is_a_lost_conversation_or_agent_that_the_session_mends() -> None:
    gone = http_error(404, "conversation not found")
    conversation = lost(gone, "conversation")
    assert conversation is not None
    assert conversation.type == StepErrors.CONVERSATION_LOST
    assert conversation.non_retryable
    assert conversation.details == ({"status": 404},)
    assert conversation.message == (
        "Mistral no longer knows the session's conversation: "
        "Mistral answered HTTP 404: conversation not found"
    )
    agent = lost(gone, "agent")
    assert agent is not None
    assert agent.type == StepErrors.AGENT_LOST
    assert agent.message.startswith("Mistral no longer knows the session's agent: ")


def test_only_a_404_is_lost() -> None:
    assert lost(http_error(410), "conversation") is None
    assert lost(http_error(500), "agent") is None
    assert lost(OSError("404"), "conversation") is None


@pytest.mark.parametrize("value", ["soon", "1.5e3s", "Fri, 99 Foo 2027", "inf", "nan"])
def test_a_garbage_retry_after_is_no_wait(value: str) -> None:
    assert retry_after(httpx2.Headers({"Retry-After": value})) is None
    error = classify(http_error(429, **{"Retry-After": value}))
    assert error.type == StepErrors.MODEL_RATE_LIMITED
    assert error.next_retry_delay == timedelta(seconds=1)


@pytest.mark.usefixtures("frozen_clock")
def test_an_http_date_without_a_zone_is_gmt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        no_zone = "Fri, 15 Jan 2027 08:00:30 -0000"
        assert retry_after(httpx2.Headers({"Retry-After": no_zone})) == timedelta(seconds=30)
    finally:
        monkeypatch.undo()
        time.tzset()
