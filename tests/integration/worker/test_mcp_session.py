"""The worker's ONE MCP session (services/worker/mcp_tools.py): shared by concurrent calls, and
opened again after it broke, with the calls caught by the break failing at once as the tool
being unavailable, never hanging."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx2
import pytest
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from scripts.stack.processes import ManagedProcess, apoll, http_ok
from services.mcp_server.app import create_app
from services.mcp_server.settings import McpServerSettings
from services.worker.activities import SessionActivities
from services.worker.activity_types import FunctionCall, StepContext, ToolInput
from services.worker.errors import StepErrors
from services.worker.mcp_servers import McpServers
from services.worker.mcp_tools import HttpTransport, McpAuthError, McpTools, McpUnavailable
from tests.fixtures.mcp_server import MCP_TEST_TOKEN, McpServerProcess, start_mcp_server
from tests.fixtures.worker import worker_settings
from tests.integration.common.tcp_path import TcpPath
from tests.integration.mcp_server.inprocess import serve
from tests.integration.mcp_server.mcp_client import User, data_of

QUERY = {"user_query": "how am I doing today?"}
PROMPT_S = 5.0  # a failed call must end within this, far below the 30 s HTTP timeout


class CountMethods:
    """ASGI middleware: counts the JSON-RPC methods POSTed to the server."""

    def __init__(self, app: ASGIApp, counts: Counter[str]) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.counts[json.loads(body).get("method", "")] += 1
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def sent_methods(tools: McpTools) -> Counter[str]:
    """Counts the JSON-RPC methods this client POSTs: an `initialize` for each session it opens."""
    counts: Counter[str] = Counter()

    async def on_request(request: httpx2.Request) -> None:
        if request.method == "POST":
            counts[json.loads(request.content).get("method", "")] += 1

    assert isinstance(tools.transport, HttpTransport)
    tools.transport._http.event_hooks["request"].append(on_request)
    return counts


@asynccontextmanager
async def worker_mcp(url: str, token: str = MCP_TEST_TOKEN) -> AsyncIterator[McpTools]:
    tools = McpTools(url, auth_token=SecretStr(token), timeout_s=30)
    try:
        yield tools
    finally:
        await tools.aclose()


def tool_call_activity(tools: McpTools, user: User) -> Callable[[], Any]:
    """The tool-call activity's MCP step, as it maps errors, on `tools`."""
    settings = worker_settings(
        redis_url="redis://127.0.0.1:1",
        sim_url="http://127.0.0.1:1",
        mcp_url=tools.url,
    )
    servers = McpServers.from_settings(settings)
    servers.use("nutrisense", "nutrisense", tools)
    activities = SessionActivities(settings, cast(Any, None), cast(Any, None), servers)
    context = StepContext(bus_key="unused", session_id="s", turn_id="turn_1", step=1)
    call = FunctionCall("call_1", "daily_progress", json.dumps(QUERY))
    request = ToolInput(context=context, call=call, tenant_id=user.tenant_id, user_id=user.user_id)
    meta = {"user_id": user.user_id, "tenant_id": user.tenant_id}
    return lambda: ActivityEnvironment().run(activities._call_mcp, request, QUERY, meta)


async def test_concurrent_calls_share_one_session(tmp_path: Path) -> None:
    """A session per call would send 21 `initialize` and 21 `tools/list` here."""
    counts: Counter[str] = Counter()
    settings = McpServerSettings(
        database_url=f"sqlite:///{tmp_path / 'diary.db'}", mcp_auth_token=SecretStr(MCP_TEST_TOKEN)
    )
    app = create_app(settings, telemetry=False)
    app.add_middleware(CountMethods, counts=counts)
    user = User.fresh()
    async with serve(app) as base_url, worker_mcp(f"{base_url}/mcp") as tools:
        calls = [tools.call_tool("daily_progress", QUERY, dict(user.meta()), 10) for _ in range(20)]
        results, router = await asyncio.gather(asyncio.gather(*calls), tools.prompt_text("router"))
        results.append(await tools.call_tool("daily_progress", QUERY, dict(user.meta()), 10))
    assert [data_of(result)["entries"] for result in results] == [[]] * 21
    assert router
    assert counts["initialize"] == 1
    assert counts["tools/list"] == 1  # the session's own, for the output schemas
    assert counts["tools/call"] == 21


async def test_a_restarted_server_gets_a_new_session_and_the_outage_fails_fast(
    tmp_path: Path,
) -> None:
    server = start_mcp_server(tmp_path, f"sqlite:///{tmp_path / 'mcp.db'}", name="mcp-restarted")
    user = User.fresh()
    try:
        async with worker_mcp(server.url) as tools:
            sent = sent_methods(tools)
            call = tool_call_activity(tools, user)
            await call()
            server.stop()
            # The first call finds the session broken, the next finds no server to open one.
            for _ in range(2):
                with pytest.raises(ApplicationError) as down:
                    async with asyncio.timeout(PROMPT_S):
                        await call()
                assert down.value.type == StepErrors.TOOL_UNAVAILABLE
                assert isinstance(down.value.__cause__, McpUnavailable)
            await asyncio.to_thread(restart, server)
            await call()
            await call()
    finally:
        server.stop()
    # A session before the outage, an attempt that found no server, one after for both calls.
    assert sent["initialize"] == 3
    assert sent["tools/call"] == 4  # the call that found the session broken was sent


def restart(server: McpServerProcess) -> None:
    server.process.start().wait_ready(lambda: http_ok(f"{server.base_url}/healthz"))


async def test_a_call_in_flight_when_the_connection_dies_fails_at_once(
    mcp_server: McpServerProcess,
) -> None:
    """The path goes silent under a call, then is cut: the call must not wait out its timeout."""
    user = User.fresh()
    port = int(mcp_server.base_url.rsplit(":", 1)[1])
    async with TcpPath(port) as path, worker_mcp(f"http://127.0.0.1:{path.port}/mcp") as tools:
        sent = sent_methods(tools)
        await tools.call_tool("daily_progress", QUERY, dict(user.meta()), 30)
        path.blackhole()
        calls = [
            asyncio.create_task(tools.call_tool("daily_progress", QUERY, dict(user.meta()), 30))
            for _ in range(3)
        ]

        async def all_sent() -> bool:
            return sent["tools/call"] == 4

        assert await apoll(all_sent, PROMPT_S)
        path.cut()
        async with asyncio.timeout(PROMPT_S):
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(outcome, McpUnavailable) for outcome in outcomes), outcomes
        path.restore()
        # Concurrent callers after the break share one new session.
        again = [tools.call_tool("daily_progress", QUERY, dict(user.meta()), 30) for _ in range(5)]
        assert len(await asyncio.gather(*again)) == 5
    assert sent["initialize"] == 2


async def test_the_wrong_token_is_an_auth_error_for_every_caller_every_time(
    mcp_server: McpServerProcess,
) -> None:
    async with worker_mcp(mcp_server.url, token="not-the-servers-token") as tools:
        sent = sent_methods(tools)
        calls = [tools.call_tool("daily_progress", QUERY, {}, 10) for _ in range(3)]
        first = await asyncio.gather(*calls, tools.list_tools(), return_exceptions=True)
        with pytest.raises(McpAuthError) as later:
            await tools.prompt_text("router")
    assert all(isinstance(error, McpAuthError) for error in first), first
    assert "MCP_AUTH_TOKEN must be the same" in str(later.value)
    assert "not-the-servers-token" not in str(later.value)
    assert sent["initialize"] == 2  # the callers shared one attempt; a later call tries again


async def test_a_token_changed_under_the_session_is_an_auth_error(tmp_path: Path) -> None:
    """The server comes back on the same port with another token: the open session is refused."""
    server = start_mcp_server(tmp_path, f"sqlite:///{tmp_path / 'mcp.db'}", name="mcp-rotated")
    rotated = ManagedProcess(
        "mcp-rotated-2",
        server.process.argv,
        log_dir=tmp_path,
        env={**server.process.env, "MCP_AUTH_TOKEN": "a-rotated-token-for-the-server"},
    )
    user = User.fresh()
    try:
        async with worker_mcp(server.url) as tools:
            await tools.call_tool("daily_progress", QUERY, dict(user.meta()), 10)
            server.stop()
            await asyncio.to_thread(
                lambda: rotated.start().wait_ready(lambda: http_ok(f"{server.base_url}/healthz"))
            )
            with pytest.raises(McpAuthError) as refused:
                await tools.call_tool("daily_progress", QUERY, dict(user.meta()), 10)
    finally:
        server.stop()
        rotated.stop()
    assert "MCP_AUTH_TOKEN must be the same" in str(refused.value)


async def test_a_session_whose_writer_stopped_is_replaced(
    mcp_server: McpServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """A call given up (the activity's timeout) sends the server a cancel. When only that POST
    fails, the SDK's writer stops and just closes the session's stream, raising nothing: the
    session must still count as broken, or every later call would fail on it."""
    user = User.fresh()
    port = int(mcp_server.base_url.rsplit(":", 1)[1])
    async with TcpPath(port) as path, worker_mcp(f"http://127.0.0.1:{path.port}/mcp") as tools:
        sent = sent_methods(tools)
        await tools.call_tool("daily_progress", QUERY, dict(user.meta()), 30)
        path.blackhole()  # the pooled connection the next call takes goes silent...
        path.state = "cut"  # ...and the new one its cancel needs is refused
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(
                tools.call_tool("daily_progress", QUERY, dict(user.meta()), 30), 0.2
            )

        async def broke() -> bool:
            return "broke" in caplog.text

        assert await apoll(broke, PROMPT_S)
        # Noticed when the writer stopped, not later (the silent connection closes after 5 s).
        assert "broke (its stream closed)" in caplog.text
        path.restore()
        await tools.call_tool("daily_progress", QUERY, dict(user.meta()), 30)
    assert sent["notifications/cancelled"] == 1
    assert sent["initialize"] == 2


async def test_a_stale_output_schema_is_listed_again_and_the_retry_succeeds(
    tmp_path: Path,
) -> None:
    """A pooled session keeps the output schemas it listed; a server redeployed with another
    schema must not fail every later call: the failed one lists again, the retry passes."""
    settings = McpServerSettings(
        database_url=f"sqlite:///{tmp_path / 'diary.db'}", mcp_auth_token=SecretStr(MCP_TEST_TOKEN)
    )
    user = User.fresh()
    async with (
        serve(create_app(settings, telemetry=False)) as base_url,
        worker_mcp(f"{base_url}/mcp") as tools,
    ):
        await tools.call_tool("daily_progress", QUERY, dict(user.meta()), 10)
        async with tools.session() as session:  # as if listed before a redeploy
            session._tool_output_schemas["daily_progress"] = {
                "type": "object",
                "required": ["a_field_the_new_server_dropped"],
            }
            session._tool_output_validators.pop("daily_progress", None)
        with pytest.raises(McpUnavailable, match="did not match the tool as listed"):
            await tools.call_tool("daily_progress", QUERY, dict(user.meta()), 10)
        result = await tools.call_tool("daily_progress", QUERY, dict(user.meta()), 10)
        assert data_of(result)["entries"] == []
