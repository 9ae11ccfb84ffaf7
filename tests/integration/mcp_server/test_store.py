"""The diary store on SQLite and on a real PostgreSQL: the same code, the same guarantees."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.mcp_server.identity import UserKey
from services.mcp_server.nutrients import Goals, Nutrients
from services.mcp_server.store import FoodEntry, NutritionStore
from tests.fixtures.mcp_server import start_mcp_server
from tests.integration.mcp_server.mcp_client import User, call, data_of, mcp_session

NOW = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)
DAY = NOW.date()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_dsn"))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[NutritionStore]:
    opened = await NutritionStore.open(database_url)
    yield opened
    await opened.close()


def someone(tenant: str = "t1") -> UserKey:
    return UserKey(tenant, f"u-{uuid.uuid4().hex[:8]}")


def entry(food: str, kcal: float) -> FoodEntry:
    return FoodEntry(food, f"1 {food}", 1, "piece", 100, Nutrients(kcal, 1, 2, 3, 0.5))


async def test_partial_goal_updates_and_the_day_they_take_effect(store: NutritionStore) -> None:
    user = someone()
    await store.set_goals(user, DAY, Goals(calories_kcal=2000, protein_g=100), NOW)
    later = DAY + dt.timedelta(days=3)
    after = await store.set_goals(user, later, Goals(protein_g=130), NOW)

    assert after == Goals(calories_kcal=2000, protein_g=130)
    assert await store.goals_on(user, DAY) == Goals(calories_kcal=2000, protein_g=100)
    assert await store.goals_on(user, DAY - dt.timedelta(days=1)) == Goals()
    assert await store.goals_on(user, later + dt.timedelta(days=9)) == after


async def test_concurrent_updates_of_different_goals_keep_both(store: NutritionStore) -> None:
    user = someone()
    updates = [
        Goals(calories_kcal=2100),
        Goals(protein_g=110),
        Goals(carbs_g=240),
        Goals(fat_g=70),
        Goals(fibre_g=30),
    ]
    await asyncio.gather(*(store.set_goals(user, DAY, goals, NOW) for goals in updates))
    assert await store.goals_on(user, DAY) == Goals(2100, 110, 240, 70, 30)


async def test_concurrent_logs_for_one_user_lose_no_entry(store: NutritionStore) -> None:
    user = someone()
    await asyncio.gather(
        *(store.add_entries(user, DAY, [entry(f"food{n}", n)], NOW) for n in range(40))
    )
    entries = await store.entries_on(user, DAY)
    assert sorted(e.nutrients.calories_kcal for e in entries) == list(range(40))


async def test_a_request_key_logs_once_even_when_sent_concurrently(store: NutritionStore) -> None:
    user, other = someone(), someone()
    written = await asyncio.gather(
        *(
            store.add_entries(user, DAY, [entry("egg", 72)], NOW, request_key="call-1")
            for _ in range(5)
        )
    )
    assert sorted(written) == [False, False, False, False, True]
    assert [e.food for e in await store.entries_on(user, DAY)] == ["egg"]
    assert await store.request_day(user, "call-1") == DAY
    # Keys belong to one user: another user's call with the same key is a different call.
    assert await store.add_entries(other, DAY, [entry("pear", 57)], NOW, request_key="call-1")
    assert await store.request_day(someone(), "call-1") is None


async def test_entries_per_user_tenant_and_day(store: NutritionStore) -> None:
    user = someone("t1")
    same_id_other_tenant = UserKey("t2", user.user_id)
    tomorrow = DAY + dt.timedelta(days=1)
    await store.add_entries(user, DAY, [entry("egg", 72), entry("toast", 80)], NOW)
    await store.add_entries(user, tomorrow, [entry("apple", 95)], NOW)
    await store.add_entries(same_id_other_tenant, DAY, [entry("pear", 101)], NOW)

    today = await store.entries_on(user, DAY)
    assert [(e.food, e.nutrients.calories_kcal) for e in today] == [("egg", 72), ("toast", 80)]
    assert today[0].nutrients == Nutrients(72, 1, 2, 3, 0.5)
    assert [e.food for e in await store.entries_on(user, tomorrow)] == ["apple"]
    assert [e.food for e in await store.entries_on(same_id_other_tenant, DAY)] == ["pear"]


async def test_data_outlives_the_connection_and_schema_creation_is_idempotent(
    database_url: str,
) -> None:
    user = someone()
    first = await NutritionStore.open(database_url)
    await first.set_goals(user, DAY, Goals(fat_g=60), NOW)
    await first.add_entries(user, DAY, [entry("milk", 61)], NOW)
    await first.close()

    again = await NutritionStore.open(database_url)
    await again.create_schema()
    try:
        assert await again.goals_on(user, DAY) == Goals(fat_g=60)
        assert [e.food for e in await again.entries_on(user, DAY)] == ["milk"]
    finally:
        await again.close()


@pytest.mark.postgres
async def test_the_server_on_postgresql_with_two_workers(postgres_dsn: str, tmp_path: Path) -> None:
    server = start_mcp_server(tmp_path, postgres_dsn, name="mcp-postgres", workers=2)
    user = User.fresh()
    try:
        async with mcp_session(server.url) as session:
            await call(session, "goal_setting", "2000 calories, 100 g protein", user)
            await asyncio.gather(
                *(call(session, "food_log", "1 slice of whole wheat bread", user) for _ in range(6))
            )
            day = data_of(await call(session, "daily_progress", "progress", user))
    finally:
        server.stop()
    assert len(day["entries"]) == 6
    assert day["totals"]["calories_kcal"] == round(6 * 80.6, 1)  # 32 g slice at 252 kcal/100 g
    assert day["percent_of_goal"]["calories_kcal"] == round(100 * 6 * 80.6 / 2000, 1)
