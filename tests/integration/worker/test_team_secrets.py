"""A team file's `${VAR}` is resolved only in the worker: the MCP token that
`teams/nutrisense.yaml` sends as a header, and a stdio server's `env`, reach neither workflow
history, the session's events nor the published teams."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from scripts.stack.processes import apoll
from services.common.teams import TEAMS_KEY
from tests.fixtures.mcp_server import MCP_TEST_TOKEN
from tests.fixtures.worker import SessionDriver


def payloads(history_json: str) -> str:
    """Every payload of a history, decoded (JSON history holds them base64-encoded)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "metadata" in node and isinstance(node.get("data"), str):
                found.append(base64.b64decode(node["data"]).decode(errors="replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history_json))
    return "\n".join(found)


async def test_the_mcp_token_stays_in_the_worker(
    driver: SessionDriver, bus_redis: aioredis.Redis, mcp_server: Any
) -> None:
    handle = await driver.start()
    for text in ("Set my calorie goal to 2100 calories.", "I had 2 eggs for breakfast."):
        turn = await driver.submit(handle, text)
        events = await driver.events_until_done(handle, turn.turn_id)
        assert events[-1].type == "turn.completed", events[-1]
    tools = [e for e in events if e.type == "tool.result"]
    assert tools, "the tool ran, so the header was sent"
    history = payloads((await handle.fetch_history()).to_json())
    logged = json.dumps([e.data for e in events])
    published = ""

    async def teams_published() -> bool:  # a second or so after the worker started
        nonlocal published
        published = str(await bus_redis.hgetall(TEAMS_KEY))
        return "goal_setting" in published

    assert await apoll(teams_published, 30)
    for place, text in (("history", history), ("events", logged), ("teams", published)):
        assert MCP_TEST_TOKEN not in text, place
        assert "Bearer" not in text, place
    assert '"nutrisense/food_log"' in history  # the call's route, not how it is reached


def test_the_shipped_team_files_hold_no_literal_secret() -> None:
    """Headers and env values in teams/ are variables, never a token written into the file."""
    teams = Path(__file__).resolve().parents[3] / "teams"
    for path in teams.glob("*.yaml"):
        for line in path.read_text().splitlines():
            if "Authorization" in line or "TOKEN" in line.upper():
                assert "${" in line, f"{path.name}: {line.strip()}"
