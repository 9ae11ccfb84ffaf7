"""`GET /v1/sessions` over real HTTP, and its paging against the dev server's SQLite visibility.

Sessions of one test have a user id of their own, so the tests can share the tenant's sessions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
import redis.asyncio as aioredis
from temporalio import workflow
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from services.common.bus import EventBus
from services.common.sessions import (
    AGENT_MEMO,
    CREATED_ATTRIBUTE,
    SESSION_WORKFLOW,
    TENANT_ATTRIBUTE,
    TITLE_MEMO,
    TRANSCRIPT_QUERY,
    USER_ATTRIBUTE,
    SessionStart,
    workflow_id,
)
from services.gateway import session_list
from services.gateway.session_list import Cursor, newest_sessions
from tests.fixtures.gateway import GatewayServer
from tests.integration.gateway.fake_activities import scripted_session_worker
from tests.integration.gateway.test_sessions import assert_problem


@pytest.fixture
async def client(gateway_server: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=gateway_server.url, headers=gateway_server.headers("a"), timeout=20
    ) as http:
        yield http


def new_user() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


async def listed(client: httpx2.AsyncClient, count: int, **params: Any) -> list[dict[str, Any]]:
    """Every page of the list, once it holds `count` sessions (visibility lags a start)."""
    async with asyncio.timeout(20):
        while True:
            sessions = await all_pages(client, **params)
            if len(sessions) >= count:
                return sessions
            await asyncio.sleep(0.05)


async def all_pages(client: httpx2.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        query = {**params, **({"page_token": token} if token else {})}
        response = await client.get("/v1/sessions", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["sessions"]) <= int(params.get("page_size", 20))
        sessions += body["sessions"]
        token = body["next_page_token"]
        if token is None:
            return sessions


async def test_a_users_sessions_come_newest_first_a_page_at_a_time(
    client: httpx2.AsyncClient,
) -> None:
    user = new_user()
    created = []
    for _ in range(5):
        response = await client.post("/v1/sessions", json={"user_id": user})
        created.append(response.json()["session_id"])
    sessions = await listed(client, 5, user_id=user, page_size=2)
    assert [s["session_id"] for s in sessions] == created[::-1]
    first = sessions[0]
    assert first["agent"] == "nutrisense"
    assert first["user_id"] == user
    assert first["status"] == "active"
    assert first["title"] is None  # no message yet
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None
    stamps = [s["created_at"] for s in sessions]
    assert stamps == sorted(stamps, reverse=True)


async def test_the_first_message_is_the_title_and_an_ended_session_says_so(
    client: httpx2.AsyncClient,
) -> None:
    sid = f"t-{uuid.uuid4().hex[:12]}"
    text = "  Plan my   meals\nfor the week: " + "high protein, " * 20
    response = await client.post(f"/v1/sessions/{sid}/messages", json={"input": text})
    assert response.status_code == 202, response.text
    assert (await client.delete(f"/v1/sessions/{sid}")).status_code == 204

    async def ended() -> dict[str, Any]:
        async with asyncio.timeout(20):
            while True:
                [session] = await listed(client, 1, user_id=sid)
                if session["status"] == "ended":
                    return session
                await asyncio.sleep(0.05)

    session = await ended()
    assert session["session_id"] == sid
    assert session["title"].startswith("Plan my meals for the week: high protein,")
    assert len(session["title"]) <= 80
    assert "\n" not in session["title"]


async def test_a_tenant_sees_only_its_own_sessions(
    client: httpx2.AsyncClient, gateway_server: GatewayServer
) -> None:
    user = new_user()
    sid = (await client.post("/v1/sessions", json={"user_id": user})).json()["session_id"]
    assert [s["session_id"] for s in await listed(client, 1, user_id=user)] == [sid]
    async with httpx2.AsyncClient(
        base_url=gateway_server.url, headers=gateway_server.headers("b"), timeout=20
    ) as other:
        assert await all_pages(other, user_id=user) == []
        everything = await all_pages(other, page_size=100)
    assert sid not in {s["session_id"] for s in everything}


@pytest.mark.parametrize(
    ("params", "status", "slug"),
    [
        ({"page_size": "0"}, 422, "invalid-page-size"),
        ({"page_size": "101"}, 422, "invalid-page-size"),
        ({"page_size": "ten"}, 422, "invalid-page-size"),
        ({"page_token": "not-a-token"}, 400, "invalid-page-token"),
        ({"page_token": "eyJ0IjogMX0"}, 400, "invalid-page-token"),  # {"t": 1}
        ({"user_id": "a'b"}, 422, "invalid-user-id"),
    ],
)
async def test_bad_list_parameters_are_problems(
    client: httpx2.AsyncClient, params: dict[str, str], status: int, slug: str
) -> None:
    assert_problem(await client.get("/v1/sessions", params=params), status, slug)


# -- the paging itself, against the server's own order ---------------------------------------


async def start_idle_session(
    client: Client, tenant: str, user: str, created_at: datetime, title: str
) -> str:
    """A session workflow no worker runs (visibility lists it all the same), created at a time
    of the test's choosing: the server lists runs by their start, the gateway by creation."""
    sid = f"t-{uuid.uuid4().hex[:12]}"
    await client.start_workflow(
        SESSION_WORKFLOW,
        SessionStart(session_id=sid, tenant_id=tenant, user_id=user),
        id=workflow_id(tenant, sid),
        task_queue=f"idle-{uuid.uuid4().hex[:8]}",
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(TENANT_ATTRIBUTE, tenant),
                SearchAttributePair(USER_ATTRIBUTE, user),
                SearchAttributePair(CREATED_ATTRIBUTE, created_at),
            ]
        ),
        memo={AGENT_MEMO: "nutrisense", TITLE_MEMO: title},
    )
    return sid


async def pages(client: Client, tenant: str, user: str, size: int, want: int) -> list[list[str]]:
    async with asyncio.timeout(20):
        while True:  # until visibility shows every session
            got: list[list[str]] = []
            cursor: Cursor | None = None
            while True:
                page = await newest_sessions(client, tenant, user, size, cursor)
                got.append([s.session_id for s in page.sessions])
                if page.next_cursor is None:
                    break
                cursor = Cursor.from_token(page.next_cursor.token())
            if sum(map(len, got)) >= want:
                return got
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("window_rows", [session_list.WINDOW_ROWS, 5])
async def test_pages_follow_creation_time_not_the_order_runs_started(
    temporal_client: Client, monkeypatch: pytest.MonkeyPatch, window_rows: int
) -> None:
    """As after continue-as-new: the newest run is not the newest session."""
    monkeypatch.setattr(session_list, "WINDOW_ROWS", window_rows)
    tenant, user = "listing", new_user()
    base = datetime.now(UTC)
    ages = [3, 9, 1, 7, 0, 5, 8, 2, 6, 4]  # minutes before now, in the order runs start
    sids = {
        age: await start_idle_session(
            temporal_client, tenant, user, base - timedelta(minutes=age), f"{age}"
        )
        for age in ages
    }
    ended = sids[2]
    await temporal_client.get_workflow_handle(workflow_id(tenant, ended)).terminate()
    got = await pages(temporal_client, tenant, user, size=3, want=len(ages))
    assert got == [
        [sids[0], sids[1], sids[2]],
        [sids[3], sids[4], sids[5]],
        [sids[6], sids[7], sids[8]],
        [sids[9]],
    ]
    page = await newest_sessions(temporal_client, tenant, user, 10, None)
    assert [s.title for s in page.sessions] == [str(age) for age in range(10)]
    assert [s.active for s in page.sessions] == [age != 2 for age in range(10)]
    assert page.next_cursor is None
    assert (await newest_sessions(temporal_client, "other", user, 10, None)).sessions == []


async def test_sessions_created_at_the_same_instant_are_each_listed_once(
    temporal_client: Client,
) -> None:
    tenant, user = "listing", new_user()
    instant = datetime.now(UTC)
    sids = {await start_idle_session(temporal_client, tenant, user, instant, "") for _ in range(5)}
    got = await pages(temporal_client, tenant, user, size=2, want=5)
    flat = [sid for page in got for sid in page]
    assert sorted(flat) == sorted(sids)
    assert flat == sorted(sids, reverse=True)  # ties go by session id, descending


class _WithoutTranscript(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        workflow.set_query_handler(TRANSCRIPT_QUERY, None)
        return await super().execute_workflow(input)


class OlderWorker(Interceptor):
    """A worker from before the transcript query: the session workflow with that query unset."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _WithoutTranscript


@pytest.fixture(scope="module")
async def older_worker(temporal_client: Client, redis_url: str) -> AsyncIterator[str]:
    """The scripted session worker as it was before the transcript query; yields its queue."""
    task_queue = f"gateway-older-{uuid.uuid4().hex[:8]}"
    redis = aioredis.from_url(redis_url)
    bus = EventBus(redis, maxlen=10_000, ttl_s=600)
    async with scripted_session_worker(temporal_client, bus, task_queue, [OlderWorker()]):
        yield task_queue
    await redis.aclose()


async def test_a_worker_without_the_transcript_query_answers_from_its_status(
    client: httpx2.AsyncClient, temporal_client: Client, older_worker: str
) -> None:
    """A session on a worker too old for the transcript query: its page is cut from the status."""
    sid = f"t-{uuid.uuid4().hex[:12]}"
    # Started on the older worker's queue; the gateway's messages and reads reach it there.
    handle = await temporal_client.start_workflow(
        SESSION_WORKFLOW,
        SessionStart(session_id=sid, tenant_id="a", user_id=sid),
        id=workflow_id("a", sid),
        task_queue=older_worker,
    )
    response = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "hello there"})
    turn_id = response.json()["turn_id"]
    async with asyncio.timeout(20):
        while True:
            body = (await client.get(f"/v1/sessions/{sid}/turns")).json()
            if body["turns"] and body["turns"][0]["status"] == "completed":
                break
            await asyncio.sleep(0.05)
    [turn] = body["turns"]
    assert turn["turn_id"] == turn_id
    assert turn["input"] == "hello there"
    assert turn["output"] == "NutriSense (fake) heard: hello there"
    assert turn["tool_calls"] == []
    assert body["next_before"] is None
    # The page came from the status: the worker does not know the query.
    with pytest.raises(WorkflowQueryFailedError, match="expected but not found"):
        await handle.query(TRANSCRIPT_QUERY)
