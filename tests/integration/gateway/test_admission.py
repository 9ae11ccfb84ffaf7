"""Adaptive admission (services/gateway/admission.py) through the route: a turn that finds the
process's submits all in flight is a 429 `overloaded` with Retry-After, never queued, while
cancels and ends still pass; sent again with its key once a slot is free, it is accepted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from scripts.stack import servers
from services.common.sessions import SESSION_WORKFLOW, SessionStart, workflow_id
from services.gateway.problems import PROBLEM_MEDIA_TYPE, TYPE_PREFIX
from tests.fixtures.gateway import GatewayServer, start_gateway

TENANT = "a"


@pytest.fixture
def one_slot_gateway(
    tmp_path: Path,
    temporal_server: servers.TemporalServer,
    redis_url: str,
    gateway_task_queue: str,
) -> Iterator[GatewayServer]:
    """One process whose admission limit is one submit, waited for briefly; Temporal calls may
    take a minute, so a submit nobody answers holds that slot for the whole test."""
    server = start_gateway(
        tmp_path,
        temporal=temporal_server,
        redis_url=redis_url,
        task_queue=gateway_task_queue,
        workers=1,
        env={
            "GATEWAY_SUBMIT_MIN_IN_FLIGHT": "1",
            "GATEWAY_SUBMIT_MAX_IN_FLIGHT": "1",
            "GATEWAY_SUBMIT_WAIT_S": "0.2",
            "GATEWAY_TEMPORAL_TIMEOUT_S": "60",
        },
        name="gateway-one-slot",
    )
    yield server
    server.stop()


@pytest.fixture
async def client(one_slot_gateway: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=one_slot_gateway.url,
        headers=one_slot_gateway.headers(TENANT),
        timeout=httpx2.Timeout(90),
    ) as http:
        yield http


async def send_turn(client: httpx2.AsyncClient, key: str) -> httpx2.Response:
    """A turn to a new session of its own (so no session queue fills up), keyed."""
    return await client.post(
        f"/v1/sessions/s-{key}/messages", json={"input": "hello"}, headers={"Idempotency-Key": key}
    )


async def first_refused(client: httpx2.AsyncClient) -> tuple[str, httpx2.Response]:
    """Send turns until one is refused: until then, a turn may still take the slot first."""
    async with asyncio.timeout(30):
        while True:
            key = uuid.uuid4().hex[:16]
            answer = await send_turn(client, key)
            if answer.status_code == 429:
                return key, answer
            assert answer.status_code == 202, answer.text


async def is_started(temporal_client: Client, session_id: str) -> bool:
    try:
        await temporal_client.get_workflow_handle(workflow_id(TENANT, session_id)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_a_turn_over_the_admission_limit_is_a_429_and_is_accepted_once_a_slot_is_free(
    client: httpx2.AsyncClient, temporal_client: Client
) -> None:
    # A session on a task queue no worker polls: a turn sent to it is never accepted, and its
    # submit holds the gateway's one slot until the session is terminated.
    stuck_sid = f"stuck-{uuid.uuid4().hex[:12]}"
    stuck_session = await temporal_client.start_workflow(
        SESSION_WORKFLOW,
        SessionStart(session_id=stuck_sid, tenant_id=TENANT, user_id=stuck_sid),
        id=workflow_id(TENANT, stuck_sid),
        task_queue=f"nobody-{uuid.uuid4().hex[:8]}",
    )
    live = (await client.post("/v1/sessions")).json()["session_id"]
    held = await client.post(f"/v1/sessions/{live}/messages", json={"input": "hold on"})
    assert held.status_code == 202, held.text
    stuck = asyncio.create_task(
        client.post(f"/v1/sessions/{stuck_sid}/messages", json={"input": "hello"})
    )
    try:
        key, refused = await first_refused(client)
        assert refused.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
        problem = refused.json()
        assert problem["type"] == f"{TYPE_PREFIX}overloaded"
        retry_after = int(refused.headers["retry-after"])
        assert retry_after >= 1
        assert f"retry after {retry_after} s" in problem["detail"]
        assert "Idempotency-Key" in problem["detail"]
        assert not await is_started(temporal_client, f"s-{key}")  # the turn was not queued
        # Cancelling and ending free capacity: they are not shed while the slot is taken.
        cancel = await client.post(f"/v1/sessions/{live}/turns/{held.json()['turn_id']}/cancel")
        assert cancel.status_code == 202, cancel.text
        assert (await client.delete(f"/v1/sessions/{live}")).status_code == 204
        assert not stuck.done()
        assert (await send_turn(client, uuid.uuid4().hex[:16])).status_code == 429
    finally:
        await stuck_session.terminate(reason="test over")
    # The stuck submit fails; its slot comes back and the refused turn, sent again, is taken.
    assert (await stuck).status_code >= 400
    async with asyncio.timeout(30):
        while True:
            again = await send_turn(client, key)
            if again.status_code != 429:
                break
            await asyncio.sleep(0.05)
    assert again.status_code == 202, again.text
    assert await is_started(temporal_client, f"s-{key}")
