from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from services.mcp_server.clock import local_date
from services.mcp_server.identity import IdentityError, UserKey, caller_identity, idempotency_key
from services.mcp_server.results import GoalValues, NutrientAmounts, ProgressResult
from services.mcp_server.settings import McpServerSettings


def test_identity_from_meta_with_timezone() -> None:
    caller = caller_identity(
        {"user_id": "u1", "tenant_id": "t1", "timezone": "Europe/Paris"}, {"x-user-id": "other"}
    )
    assert caller.user == UserKey("t1", "u1")
    assert caller.timezone == ZoneInfo("Europe/Paris")


def test_identity_from_headers_when_meta_has_none() -> None:
    caller = caller_identity({"progressToken": 1}, {"x-user-id": "u2", "x-tenant-id": "t2"})
    assert caller.user == UserKey("t2", "u2")
    assert caller.timezone == ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("meta", "headers", "message"),
    [
        (None, None, "no user identity"),
        ({}, {}, "no user identity"),
        ({"user_id": "u1"}, {"x-tenant-id": "t1"}, "tenant_id is missing"),
        ({"user_id": "", "tenant_id": "t"}, None, "user_id"),
        ({"user_id": "u", "tenant_id": "t", "timezone": "Mars/Base"}, None, "IANA"),
        ({"user_id": "../../etc", "tenant_id": "t"}, None, "user_id"),
    ],
)
def test_no_usable_identity_is_refused(
    meta: dict[str, str] | None, headers: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(IdentityError, match=message):
        caller_identity(meta, headers)


def test_the_local_date_follows_the_users_timezone() -> None:
    instant = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    assert local_date(lambda: instant, ZoneInfo("UTC")) == dt.date(2026, 3, 1)
    assert local_date(lambda: instant, ZoneInfo("Europe/Paris")) == dt.date(2026, 3, 2)
    assert local_date(lambda: instant, ZoneInfo("America/New_York")) == dt.date(2026, 3, 1)


def test_allowed_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_ALLOWED_HOSTS", raising=False)
    default = McpServerSettings()
    assert {"localhost:*", "127.0.0.1:*", "mcp:*", "mcp"} <= set(default.allowed_hosts)
    assert default.host_check_enabled
    monkeypatch.setenv("MCP_ALLOWED_HOSTS", "nutrisense.internal, [::1], api:8080")
    custom = McpServerSettings()
    assert custom.allowed_hosts == [
        "nutrisense.internal",
        "nutrisense.internal:*",
        "[::1]",
        "[::1]:*",
        "api:8080",
    ]
    monkeypatch.setenv("MCP_ALLOWED_HOSTS", "*")
    assert not McpServerSettings().host_check_enabled


def test_idempotency_key_from_meta_or_header() -> None:
    assert idempotency_key({"idempotency_key": "call_1"}, {"idempotency-key": "h"}) == "call_1"
    assert idempotency_key({}, {"idempotency-key": "h-2"}) == "h-2"
    assert idempotency_key(None, None) is None
    with pytest.raises(IdentityError):
        idempotency_key({"idempotency_key": 42}, None)


def test_the_progress_text_shows_percentages_and_remaining() -> None:
    report = ProgressResult(
        date=dt.date(2026, 3, 1),
        goals=GoalValues(calories_kcal=2000, protein_g=100),
        totals=NutrientAmounts(calories_kcal=500, protein_g=25, carbs_g=60, fat_g=20, fibre_g=5),
        remaining=GoalValues(calories_kcal=1500, protein_g=75),
        percent_of_goal=GoalValues(calories_kcal=25, protein_g=25),
        by_meal={},
        entries=[],
    )
    assert "Reached: calories 25%, protein 25%." in report.text()
    assert "Remaining: calories 1500 kcal, protein 75 g." in report.text()
