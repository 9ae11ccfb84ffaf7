"""The gateway's REST endpoints over real HTTP, against the session workflow of the task queue."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest

from services.common.sessions import MAX_INPUT_CHARS
from tests.fixtures.gateway import GatewayServer

PROBLEM = "application/problem+json"


@pytest.fixture
async def client(gateway_server: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=gateway_server.url, headers=gateway_server.headers("a"), timeout=20
    ) as http:
        yield http


def new_sid() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def wait_for_status(
    client: httpx2.AsyncClient, sid: str, turn_id: str, status: str
) -> dict[str, Any]:
    """Poll the session until the turn has `status`."""
    async with asyncio.timeout(10):
        while True:
            body: dict[str, Any] = (await client.get(f"/v1/sessions/{sid}")).json()
            turns = {t["turn_id"]: t for t in body["turns"]}
            if turns.get(turn_id, {}).get("status") == status:
                return body
            await asyncio.sleep(0.02)


async def poll_json(
    client: httpx2.AsyncClient, path: str, ready: Callable[[dict[str, Any]], object]
) -> dict[str, Any]:
    """GET `path` until `ready(body)` holds (polling, never a fixed sleep)."""
    async with asyncio.timeout(10):
        while True:
            body: dict[str, Any] = (await client.get(path)).json()
            if ready(body):
                return body
            await asyncio.sleep(0.02)


def assert_problem(response: httpx2.Response, status: int, slug: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    if slug is not None:
        assert body["type"].endswith(f":{slug}"), body


async def test_health_and_readiness_need_no_key(gateway_server: GatewayServer) -> None:
    async with httpx2.AsyncClient(base_url=gateway_server.url) as anonymous:
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        ready = await anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"temporal": "ok", "redis": "ok"}


async def test_create_then_message_then_status(client: httpx2.AsyncClient) -> None:
    created = await client.post(
        "/v1/sessions", json={"user_id": "u-1", "metadata": {"plan": "x"}, "timezone": "UTC"}
    )
    assert created.status_code == 201, created.text
    sid = created.json()["session_id"]
    assert sid.startswith("ses_")
    assert created.headers["location"] == f"/v1/sessions/{sid}"
    sent = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "hello"})
    assert sent.status_code == 202, sent.text
    receipt = sent.json()
    assert receipt["turn_id"].startswith("turn_")
    assert receipt["events_url"] == f"/v1/sessions/{sid}/events?turn_id={receipt['turn_id']}"
    body = await wait_for_status(client, sid, receipt["turn_id"], "completed")
    assert body["user_id"] == "u-1"
    assert body["metadata"] == {"plan": "x"}
    assert body["turns"][0]["output"] == "NutriSense (fake) heard: hello"


async def test_first_message_creates_the_session_with_defaults(client: httpx2.AsyncClient) -> None:
    sid = new_sid()
    sent = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "hi"})
    assert sent.status_code == 202
    status = (await client.get(f"/v1/sessions/{sid}")).json()
    assert status["session_id"] == sid
    assert status["user_id"] == sid
    assert status["agent"] == "nutrisense"


async def test_idempotency_key_returns_the_original_turn(client: httpx2.AsyncClient) -> None:
    sid = new_sid()
    headers = {"Idempotency-Key": "retry-me-1"}
    first = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "a"}, headers=headers)
    again = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "a"}, headers=headers)
    other = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "b"})
    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json()["turn_id"] == again.json()["turn_id"] != other.json()["turn_id"]
    await wait_for_status(client, sid, other.json()["turn_id"], "completed")
    status = (await client.get(f"/v1/sessions/{sid}")).json()
    assert len(status["turns"]) == 2


async def test_another_tenants_session_is_not_found(
    client: httpx2.AsyncClient, gateway_server: GatewayServer
) -> None:
    sid = (await client.post("/v1/sessions")).json()["session_id"]
    other = gateway_server.headers("b")
    for method, path, body in [
        ("GET", f"/v1/sessions/{sid}", None),
        ("DELETE", f"/v1/sessions/{sid}", None),
        ("GET", f"/v1/sessions/{sid}/events", None),
        ("POST", f"/v1/sessions/{sid}/turns/turn_x/cancel", None),
        ("POST", f"/v1/sessions/{sid}/approvals/apr_x", {"approve": True}),
    ]:
        response = await client.request(method, path, json=body, headers=other)
        assert_problem(response, 404, "session-not-found")
    # A message from tenant b to the same id starts b's own session; a's is untouched.
    sent = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "x"}, headers=other)
    assert sent.status_code == 202
    mine = (await client.get(f"/v1/sessions/{sid}")).json()
    assert mine["tenant_id"] == "a"
    assert mine["turns"] == []


async def test_wrong_or_missing_key_is_401(gateway_server: GatewayServer) -> None:
    async with httpx2.AsyncClient(base_url=gateway_server.url) as anonymous:
        for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}]:
            response = await anonymous.post("/v1/sessions", headers=headers)
            assert_problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_session_is_404(client: httpx2.AsyncClient) -> None:
    sid = new_sid()
    assert_problem(await client.get(f"/v1/sessions/{sid}"), 404, "session-not-found")
    assert_problem(await client.delete(f"/v1/sessions/{sid}"), 404, "session-not-found")
    assert_problem(await client.get(f"/v1/sessions/{sid}/events"), 404, "session-not-found")
    assert_problem(await client.get("/v1/sessions/bad%20id"), 404, "session-not-found")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{", 400),
        (b"[]", 422),
        (b'{"input": ""}', 422),
        (b'{"input": "   "}', 422),
        (b'{"input": 3}', 422),
        (b'{"input": "x", "on_busy": "never"}', 422),
        (b'{"input": "x", "extra": 1}', 422),
        (b"{}", 422),
    ],
)
async def test_bad_message_bodies_are_4xx(
    client: httpx2.AsyncClient, body: bytes, status: int
) -> None:
    response = await client.post(
        f"/v1/sessions/{new_sid()}/messages",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert_problem(response, status)


async def test_bad_session_bodies_are_4xx(client: httpx2.AsyncClient) -> None:
    for body in [
        {"agent": "nobody"},
        {"timezone": "Mars/Olympus"},
        {"timezone": "../../etc/passwd"},
        {"metadata": {"k": 1}},
        {"user_id": ""},
    ]:
        assert_problem(await client.post("/v1/sessions", json=body), 422)
    response = await client.post(
        "/v1/sessions", content=b"a=b", headers={"content-type": "text/plain"}
    )
    assert_problem(response, 415)


async def test_oversized_input_and_body_are_413(client: httpx2.AsyncClient) -> None:
    sid = new_sid()
    long_input = await client.post(
        f"/v1/sessions/{sid}/messages", json={"input": "x" * (MAX_INPUT_CHARS + 1)}
    )
    assert_problem(long_input, 413, "input-too-large")
    huge = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "x" * 70_000})
    assert_problem(huge, 413, "body-too-large")
    assert_problem(await client.get(f"/v1/sessions/{sid}"), 404)  # nothing was created


async def test_invalid_idempotency_key_is_400(client: httpx2.AsyncClient) -> None:
    response = await client.post(
        f"/v1/sessions/{new_sid()}/messages",
        json={"input": "x"},
        headers={"Idempotency-Key": "x" * 300},
    )
    assert_problem(response, 400, "invalid-idempotency-key")


async def test_busy_session_rejects_interrupts_and_cancels(client: httpx2.AsyncClient) -> None:
    sid = new_sid()
    held = (await client.post(f"/v1/sessions/{sid}/messages", json={"input": "hold"})).json()
    await wait_for_status(client, sid, held["turn_id"], "running")
    rejected = await client.post(
        f"/v1/sessions/{sid}/messages", json={"input": "x", "on_busy": "reject"}
    )
    assert_problem(rejected, 409, "session-busy")
    queued = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "hold again"})
    assert queued.json()["status"] == "queued"
    assert queued.json()["position"] == 1
    queued_id = queued.json()["turn_id"]
    cancelled = await client.post(f"/v1/sessions/{sid}/turns/{queued_id}/cancel")
    assert cancelled.status_code == 202
    assert cancelled.json() == {"turn_id": queued_id, "status": "cancelled"}
    assert_problem(await client.post(f"/v1/sessions/{sid}/turns/{queued_id}/cancel"), 409)
    assert_problem(await client.post(f"/v1/sessions/{sid}/turns/turn_nope/cancel"), 404)
    interrupting = await client.post(
        f"/v1/sessions/{sid}/messages", json={"input": "quick", "on_busy": "interrupt"}
    )
    assert interrupting.json()["interrupted"] == [held["turn_id"]]
    await wait_for_status(client, sid, interrupting.json()["turn_id"], "completed")
    status = (await client.get(f"/v1/sessions/{sid}")).json()
    assert {t["turn_id"]: t["status"] for t in status["turns"]}[held["turn_id"]] == "cancelled"


async def test_approvals(client: httpx2.AsyncClient) -> None:
    sid = new_sid()
    turn = (await client.post(f"/v1/sessions/{sid}/messages", json={"input": "approval"})).json()
    status = await poll_json(client, f"/v1/sessions/{sid}", lambda b: b["pending_approvals"])
    [pending] = status["pending_approvals"]
    # Exactly the fields the OpenAPI document names (WaitingApproval).
    assert pending == {
        "approval_id": pending["approval_id"],
        "turn_id": turn["turn_id"],
        "tool": "log_meal",
    }
    approval_id = pending["approval_id"]
    bad = await client.post(f"/v1/sessions/{sid}/approvals/{approval_id}", json={"approve": "y"})
    assert_problem(bad, 422)
    # Refused after a few seconds: while a turn runs, the workflow waits a while for an id it
    # may be about to ask for (services/worker/session_workflow.py, decide_approval).
    unknown = await client.post(f"/v1/sessions/{sid}/approvals/apr_nope", json={"approve": True})
    assert_problem(unknown, 404, "unknown-approval")
    decided = await client.post(
        f"/v1/sessions/{sid}/approvals/{approval_id}", json={"approve": True, "reason": "ok"}
    )
    assert decided.status_code == 204
    body = await wait_for_status(client, sid, turn["turn_id"], "completed")
    # The tool ran once approved, and the model heard its result (fake_activities.py).
    assert body["turns"][0]["output"] == "NutriSense (fake) heard: logged"


async def test_ended_session_refuses_messages(client: httpx2.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions")).json()["session_id"]
    assert (await client.delete(f"/v1/sessions/{sid}")).status_code == 204
    assert_problem(await client.delete(f"/v1/sessions/{sid}"), 409, "session-ended")
    sent = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "x"})
    assert_problem(sent, 409, "session-ended")
    assert (await client.get(f"/v1/sessions/{sid}")).json()["state"] == "ended"
    # Nothing new can come from an ended session; with a resume id its log still replays.
    assert_problem(await client.get(f"/v1/sessions/{sid}/events"), 409, "session-ended")
    async with client.stream("GET", f"/v1/sessions/{sid}/events?after=0") as replay:
        assert replay.status_code == 200
        assert "event: session.ended" in (await replay.aread()).decode()
