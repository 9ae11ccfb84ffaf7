"""The MCP server's GET /metrics: open like /healthz, tool calls counted by tool and outcome."""

from __future__ import annotations

from services.common import metrics
from tests.fixtures.mcp_server import McpServerProcess
from tests.fixtures.prometheus import scrape, value
from tests.integration.mcp_server.mcp_client import User, call, mcp_session

CALLS = metrics.MCP_TOOL_CALLS.sample


async def test_tool_calls_are_counted_by_tool_and_outcome(mcp_server: McpServerProcess) -> None:
    url = f"{mcp_server.base_url}/metrics"  # no token: Prometheus scrapes it as it is
    before = await scrape(url)
    async with mcp_session(mcp_server.url) as session:
        await call(session, "daily_progress", "how am I doing today?", User.fresh())
        refused = await call(session, "daily_progress", "how am I doing today?", None)
    assert refused.is_error  # no caller identity
    after = await scrape(url)
    for outcome in ("ok", "refused"):
        grew = value(after, CALLS, tool="daily_progress", outcome=outcome) - value(
            before, CALLS, tool="daily_progress", outcome=outcome
        )
        assert grew == 1, outcome
