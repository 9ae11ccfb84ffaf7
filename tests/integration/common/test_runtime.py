"""The local runtime starts real servers that answer: Temporal, Redis, PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import redis.asyncio as aioredis
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration.common.greeting import Greeting, GreetingWorkflow, compose_greeting


async def test_workflow_and_activity_round_trip(temporal_client: Client) -> None:
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[GreetingWorkflow],
        activities=[compose_greeting],
    ):
        result = await temporal_client.execute_workflow(
            GreetingWorkflow.run,
            Greeting("Temporal"),
            id=f"wf-{uuid.uuid4()}",
            task_queue=task_queue,
        )
    assert result == "Hello, Temporal!"


async def test_redis_answers(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        assert await client.ping()
        await client.set("k", "v")
        assert await client.get("k") == b"v"
    finally:
        await client.aclose()


async def test_postgres_database_is_fresh_and_writable(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        tables = await conn.fetchval(
            "select count(*) from information_schema.tables where table_schema = 'public'"
        )
        assert tables == 0
        await conn.execute("create table t (x int)")
        await conn.execute("insert into t values (1)")
        assert await asyncio.wait_for(conn.fetchval("select sum(x) from t"), 5) == 1
    finally:
        await conn.close()
