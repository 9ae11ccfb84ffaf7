"""Entries belong to the user's local day: crossing midnight starts a new day; goals carry on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import SecretStr

from services.mcp_server.app import create_app
from services.mcp_server.settings import McpServerSettings
from tests.fixtures.mcp_server import MCP_TEST_TOKEN
from tests.integration.mcp_server.inprocess import SettableClock, serve
from tests.integration.mcp_server.mcp_client import User, call, data_of, mcp_session


async def test_midnight_in_the_users_timezone_starts_a_new_day(tmp_path: Path) -> None:
    # 22:50 UTC on 1 March is 23:50 in Paris: one step before the Paris day ends.
    clock = SettableClock(dt.datetime(2026, 3, 1, 22, 50, tzinfo=dt.UTC))
    settings = McpServerSettings(
        database_url=f"sqlite:///{tmp_path / 'diary.db'}", mcp_auth_token=SecretStr(MCP_TEST_TOKEN)
    )
    paris, utc = User.fresh(timezone="Europe/Paris"), User.fresh()
    app = create_app(settings, clock=clock, telemetry=False)
    async with serve(app) as base_url, mcp_session(f"{base_url}/mcp") as session:
        await call(session, "goal_setting", "2000 calories, 100 g protein", paris)
        late = data_of(await call(session, "food_log", "1 banana for a snack", paris))
        await call(session, "food_log", "1 apple", utc)

        clock.now += dt.timedelta(minutes=20)  # 00:10 on 2 March in Paris, 23:10 UTC
        paris_today = data_of(await call(session, "daily_progress", "progress", paris))
        paris_yesterday = data_of(await call(session, "daily_progress", "yesterday?", paris))
        utc_today = data_of(await call(session, "daily_progress", "progress", utc))
        early = data_of(await call(session, "food_log", "2 eggs for breakfast", paris))

    assert late["date"] == "2026-03-01"
    assert paris_today["date"] == "2026-03-02"
    assert paris_today["entries"] == []
    assert paris_today["totals"]["calories_kcal"] == 0
    assert paris_today["goals"]["calories_kcal"] == 2000  # goals carry over to the new day
    assert paris_today["percent_of_goal"]["calories_kcal"] == 0
    assert paris_yesterday["date"] == "2026-03-01"
    assert [e["food"] for e in paris_yesterday["entries"]] == ["banana"]
    assert utc_today["date"] == "2026-03-01"  # still 1 March in UTC
    assert [e["food"] for e in utc_today["entries"]] == ["apple"]
    assert early["date"] == "2026-03-02"
    assert early["day_totals"] == early["logged_totals"]  # yesterday's banana is not in today
