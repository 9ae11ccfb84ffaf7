"""The published teams (services/common/teams.py): a union of what every worker publishes,
each team listed while some worker keeps publishing it."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from services.common import teams as catalog
from services.common.teams import AgentInfo, TeamInfo, publish_teams, read_teams


def team(name: str) -> TeamInfo:
    return TeamInfo(
        name=name,
        description="",
        entry="solo",
        version="v1",
        agents=[AgentInfo(name="solo", description="", model="m", handoffs=[], tools=[])],
        tools=[],
        mcp_servers=[],
        tools_listed=True,
    )


@pytest.fixture
async def redis(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[aioredis.Redis]:
    """A catalog key of this test's own (other tests' workers publish into the shared one)."""
    monkeypatch.setattr(catalog, "TEAMS_KEY", f"test:teams:{uuid.uuid4().hex}")
    client = aioredis.from_url(redis_url)
    yield client
    await client.delete(catalog.TEAMS_KEY)
    await client.aclose()


async def test_workers_with_different_team_files_are_listed_together(
    redis: aioredis.Redis,
) -> None:
    await publish_teams(redis, [team("nutrisense"), team("time")])
    await publish_teams(redis, [team("nutrisense")])  # a worker without the time team's file
    assert [t.name for t in await read_teams(redis)] == ["nutrisense", "time"]


async def test_a_team_nobody_publishes_any_more_drops_out(redis: aioredis.Redis) -> None:
    now = time.time()
    await publish_teams(redis, [team("gone")], at=now - catalog.TEAM_LEASE_S - 1)
    await publish_teams(redis, [team("here")], at=now)
    assert [t.name for t in await read_teams(redis, now=now)] == ["here"]
    await publish_teams(redis, [team("gone")], at=now)  # a worker serves it again
    assert [t.name for t in await read_teams(redis, now=now)] == ["gone", "here"]


async def test_a_field_that_does_not_parse_is_left_out(redis: aioredis.Redis) -> None:
    await redis.hset(catalog.TEAMS_KEY, mapping={"broken": "{not json", "old": "{}"})
    await publish_teams(redis, [team("fine")])
    assert [t.name for t in await read_teams(redis)] == ["fine"]
