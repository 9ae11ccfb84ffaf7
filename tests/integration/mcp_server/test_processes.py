"""The server as real processes: several workers, restart persistence, the legacy SSE transport."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mcp import ClientSession
from mcp.client.sse import sse_client

from tests.fixtures.mcp_server import McpServerProcess, start_mcp_server
from tests.integration.mcp_server.mcp_client import User, call, data_of, mcp_session


async def test_workers_share_one_store_lose_no_entry_and_the_diary_survives_a_restart(
    tmp_path: Path,
) -> None:
    """Two worker processes take 24 concurrent logs on one SQLite file; a new server started
    on the same file after a stop still has every entry and the goals."""
    database_url = f"sqlite:///{tmp_path / 'diary.db'}"
    user = User.fresh()
    workers = start_mcp_server(tmp_path, database_url, name="mcp-workers", workers=2)

    async def log_one(n: int) -> None:
        async with mcp_session(workers.url) as session:
            data_of(await call(session, "food_log", f"{n} g of white rice", user))

    try:
        async with mcp_session(workers.url) as session:
            await call(session, "goal_setting", "1800 calories and 90 g protein", user)
        await asyncio.gather(*(log_one(n) for n in range(1, 25)))
        started = workers.process.log_path.read_text().count("Started server process")
    finally:
        workers.stop()

    restarted = start_mcp_server(tmp_path, database_url, name="mcp-restarted")
    try:
        async with mcp_session(restarted.url) as session:
            day = data_of(await call(session, "daily_progress", "progress", user))
    finally:
        restarted.stop()

    assert started == 2
    assert sorted(e["grams"] for e in day["entries"]) == list(range(1, 25))
    assert (day["goals"]["calories_kcal"], day["goals"]["protein_g"]) == (1800, 90)
    # 300 g of rice in all at 130 kcal per 100 g; per-item rounding may move it by 0.1 kcal/item.
    assert abs(day["totals"]["calories_kcal"] - 390) <= 2.4
    assert day["percent_of_goal"]["calories_kcal"] == round(
        100 * day["totals"]["calories_kcal"] / 1800, 1
    )


async def test_legacy_sse_transport(mcp_server: McpServerProcess) -> None:
    user = User.fresh()
    async with (
        sse_client(f"{mcp_server.base_url}/sse", headers=mcp_server.auth_headers) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        result = await call(session, "food_log", "1 cup of black coffee", user)
    assert len(tools.tools) == 4
    assert data_of(result)["items"][0]["food"] == "coffee"
