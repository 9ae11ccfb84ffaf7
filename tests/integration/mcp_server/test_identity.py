"""Identity travels out of band: users and tenants never see each other's diary."""

from __future__ import annotations

from tests.fixtures.mcp_server import McpServerProcess
from tests.integration.mcp_server.mcp_client import User, call, data_of, mcp_session, text_of


async def test_two_users_are_isolated(mcp_server: McpServerProcess) -> None:
    alice, bob = User.fresh(), User.fresh()
    async with mcp_session(mcp_server.url) as session:
        await call(session, "goal_setting", "2000 calories", alice)
        await call(session, "food_log", "2 eggs", alice)
        await call(session, "food_log", "1 banana", bob)
        alice_day = data_of(await call(session, "daily_progress", "today", alice))
        bob_day = data_of(await call(session, "daily_progress", "today", bob))

    assert [e["food"] for e in alice_day["entries"]] == ["egg"]
    assert [e["food"] for e in bob_day["entries"]] == ["banana"]
    assert alice_day["goals"]["calories_kcal"] == 2000
    assert bob_day["goals"]["calories_kcal"] is None


async def test_the_same_user_id_in_two_tenants_is_two_users(mcp_server: McpServerProcess) -> None:
    here = User.fresh(tenant_id="tenant-a")
    there = User(here.user_id, tenant_id="tenant-b")
    async with mcp_session(mcp_server.url) as session:
        await call(session, "food_log", "1 apple", here)
        elsewhere = data_of(await call(session, "daily_progress", "today", there))
    assert elsewhere["entries"] == []


async def test_a_call_without_identity_is_an_error_not_a_shared_user(
    mcp_server: McpServerProcess,
) -> None:
    async with mcp_session(mcp_server.url) as session:
        results = [
            await call(session, tool, "2 eggs", None)
            for tool in ("goal_setting", "food_log", "food_recommendations", "daily_progress")
        ]
    for result in results:
        assert result.is_error
        assert "no user identity" in text_of(result)


async def test_identity_from_headers_for_clients_without_meta(mcp_server: McpServerProcess) -> None:
    user = User.fresh(tenant_id="tenant-h")
    headers = {"X-User-Id": user.user_id, "X-Tenant-Id": user.tenant_id}
    async with mcp_session(mcp_server.url, headers=headers) as session:
        await call(session, "food_log", "1 pear", None)
    async with mcp_session(mcp_server.url) as session:
        day = data_of(await call(session, "daily_progress", "today", user))
    assert [e["food"] for e in day["entries"]] == ["pear"]


async def test_a_tool_argument_cannot_select_another_user(mcp_server: McpServerProcess) -> None:
    victim, attacker = User.fresh(), User.fresh()
    async with mcp_session(mcp_server.url) as session:
        await session.call_tool(
            "food_log",
            {"user_query": "10 donuts", "user_id": victim.user_id, "tenant_id": victim.tenant_id},
            meta=attacker.meta(),
        )
        victim_day = data_of(await call(session, "daily_progress", "today", victim))
        attacker_day = data_of(await call(session, "daily_progress", "today", attacker))
    assert victim_day["entries"] == []
    assert [e["food"] for e in attacker_day["entries"]] == ["donut"]
