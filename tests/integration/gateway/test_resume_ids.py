"""A resume id Redis would refuse is a 400 before the stream starts, not a 200 that then drops.

An EventSource reconnects with the same Last-Event-ID after a dropped stream, so an id that
passed the check at the edge and failed later in Redis made it reconnect for ever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from tests.fixtures.gateway import GatewayServer

PROBLEM = "application/problem+json"
# Each passes a digits-only check: a part above 2^64-1, and the last id (nothing is after it).
UNUSABLE = [
    "18446744073709551616-0",
    "0-18446744073709551616",
    "18446744073709551616",
    "99999999999999999999-99999999999999999999",
    "18446744073709551615-18446744073709551615",
]


@pytest.fixture
async def client(gateway_server: GatewayServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=gateway_server.url,
        headers=gateway_server.headers("a"),
        timeout=httpx2.Timeout(30),
    ) as http:
        yield http


@pytest.fixture
async def sid(client: httpx2.AsyncClient) -> str:
    response = await client.post("/v1/sessions")
    assert response.status_code == 201
    session_id: str = response.json()["session_id"]
    return session_id


def assert_problem_400(response: httpx2.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == 400


@pytest.mark.parametrize("event_id", UNUSABLE)
async def test_resume_id_redis_would_refuse_is_400(
    client: httpx2.AsyncClient, sid: str, event_id: str
) -> None:
    path = f"/v1/sessions/{sid}/events"
    assert_problem_400(await client.get(path, headers={"Last-Event-ID": event_id}))
    assert_problem_400(await client.get(path, params={"after": event_id}))


async def test_the_largest_usable_ids_still_stream(client: httpx2.AsyncClient, sid: str) -> None:
    # 2^64-1 in either part is a real stream id: the stream opens (nothing is after it yet).
    for event_id in ("18446744073709551615-0", "0-18446744073709551615"):
        async with client.stream(
            "GET", f"/v1/sessions/{sid}/events", headers={"Last-Event-ID": event_id}
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
