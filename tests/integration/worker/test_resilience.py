"""Failures the session survives: a rejected model request, an MCP server that goes away."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client

from scripts.stack.processes import http_ok
from services.common.events import TurnFailed, parse_event
from tests.fixtures.mcp_server import start_mcp_server
from tests.fixtures.worker import SessionDriver, running_worker


async def test_rejected_request_fails_the_turn_once_and_the_session_goes_on(
    driver: SessionDriver, sim_faults_cleared: Any
) -> None:
    handle = await driver.start()
    sim_faults_cleared.add_fault(kind="status", status=400, path="/v1/conversations", times=1)
    failed = await driver.submit(handle, "Set my calorie goal to 2000 calories.")
    events = [parse_event(e.data) for e in await driver.events_until_done(handle, failed.turn_id)]
    last = events[-1]
    assert isinstance(last, TurnFailed)
    assert last.error.code == "model_rejected"
    assert "400" in last.error.message
    assert "turn.retry" not in [e.type for e in events]  # a 4xx is not retried
    ok = await driver.submit(handle, "Set my calorie goal to 2000 calories.")
    events = [parse_event(e.data) for e in await driver.events_until_done(handle, ok.turn_id)]
    assert events[-1].type == "turn.completed"
    status = await driver.status(handle)
    assert [(t.status, t.error.code if t.error else None) for t in status.turns] == [
        ("failed", "model_rejected"),
        ("completed", None),
    ]


async def test_mcp_server_down_fails_the_turn_cleanly_and_a_restart_recovers(
    temporal_client: Client,
    bus_redis: Any,
    make_settings: Callable[..., Any],
    tmp_path: Path,
) -> None:
    mcp = start_mcp_server(tmp_path, f"sqlite:///{tmp_path / 'mcp.db'}", name="mcp-own")
    try:
        settings = make_settings(mcp_url=mcp.url, tool_timeout_s=2)
        async with running_worker(temporal_client, bus_redis, settings) as driver:
            handle = await driver.start()
            first = await driver.submit(handle, "Set my calorie goal to 2000 calories.")
            logged = await driver.events_until_done(handle, first.turn_id)
            assert logged[-1].type == "turn.completed"

            mcp.process.stop()
            down = await driver.submit(handle, "I had 2 eggs for breakfast.")
            parsed = [
                parse_event(e.data) for e in await driver.events_until_done(handle, down.turn_id)
            ]
            failed = [e for e in parsed if e.turn_id == down.turn_id][-1]
            assert isinstance(failed, TurnFailed)
            assert failed.error.code == "tool_unavailable"

            mcp.process.start().wait_ready(lambda: http_ok(f"{mcp.base_url}/healthz"))
            up = await driver.submit(handle, "I had 2 eggs for breakfast.")
            logged = await driver.events_until_done(handle, up.turn_id)
            assert logged[-1].type == "turn.completed"
            assert any(e.type == "tool.result" and "Logged" in e.data for e in logged)
    finally:
        mcp.process.stop()
