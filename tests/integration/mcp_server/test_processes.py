"""The server as real processes: restart persistence, several workers, the legacy SSE transport."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mcp import ClientSession
from mcp.client.sse import sse_client

from tests.fixtures.mcp_server import McpServerProcess, start_mcp_server
from tests.integration.mcp_server.mcp_client import User, call, data_of, mcp_session


async def test_the_diary_survives_a_restart(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'diary.db'}"
    user = User.fresh()
    first = start_mcp_server(tmp_path, database_url, name="mcp-first")
    try:
        async with mcp_session(first.url) as session:
            await call(session, "goal_setting", "1800 calories and 90 g protein", user)
            logged = data_of(await call(session, "food_log", "2 eggs and 1 slice of toast", user))
    finally:
        first.stop()

    second = start_mcp_server(tmp_path, database_url, name="mcp-second")
    try:
        async with mcp_session(second.url) as session:
            day = data_of(await call(session, "daily_progress", "progress", user))
    finally:
        second.stop()

    assert day["goals"]["calories_kcal"] == 1800
    assert day["goals"]["protein_g"] == 90
    assert [e["food"] for e in day["entries"]] == ["egg", "white bread"]
    assert day["totals"] == logged["day_totals"]


async def test_several_workers_share_one_store_and_lose_no_entry(tmp_path: Path) -> None:
    server = start_mcp_server(
        tmp_path, f"sqlite:///{tmp_path / 'diary.db'}", name="mcp-workers", workers=3
    )
    user = User.fresh()

    async def log_one(n: int) -> None:
        async with mcp_session(server.url) as session:
            data_of(await call(session, "food_log", f"{n} g of white rice", user))

    try:
        await asyncio.gather(*(log_one(n) for n in range(1, 25)))
        async with mcp_session(server.url) as session:
            day = data_of(await call(session, "daily_progress", "progress", user))
        workers = server.process.log_path.read_text().count("Started server process")
    finally:
        server.stop()

    assert workers == 3
    assert sorted(e["grams"] for e in day["entries"]) == list(range(1, 25))
    # 300 g of rice in all at 130 kcal per 100 g; per-item rounding may move it by 0.1 kcal/item.
    assert abs(day["totals"]["calories_kcal"] - 390) <= 2.4


async def test_legacy_sse_transport(mcp_server: McpServerProcess) -> None:
    user = User.fresh()
    async with (
        sse_client(f"{mcp_server.base_url}/sse") as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        result = await call(session, "food_log", "1 cup of black coffee", user)
    assert len(tools.tools) == 4
    assert data_of(result)["items"][0]["food"] == "coffee"
