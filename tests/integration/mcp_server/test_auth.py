"""Only the worker may call the tools: without its bearer token a request is refused (401) before
any identity is read, and writes nothing (services/mcp_server/auth.py).

Each refusal is paired with the same request carrying the token, which does write: a refusal
test cannot pass because the request was malformed in some other way.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import MCPError
from pydantic import SecretStr

from scripts.stack.processes import REPO_ROOT
from services.mcp_server.app import create_app
from services.mcp_server.auth import NO_TOKEN
from services.mcp_server.auth_token import UNAUTHORIZED_CODE
from services.mcp_server.settings import McpServerSettings
from services.worker.mcp_tools import McpAuthError, McpTools
from tests.fixtures.mcp_server import MCP_TEST_TOKEN, McpServerProcess
from tests.integration.mcp_server.inprocess import serve
from tests.integration.mcp_server.mcp_client import User, call, data_of, mcp_session

ACCEPT = {"accept": "application/json, text/event-stream"}


def food_log_request(query: str, user: User | None) -> dict[str, Any]:
    """A stateless tools/call as one POST, the way a stranger on the network would send it."""
    params: dict[str, Any] = {"name": "food_log", "arguments": {"user_query": query}}
    if user is not None:
        params["_meta"] = dict(user.meta())
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


async def foods_logged(server: McpServerProcess, user: User) -> list[str]:
    async with mcp_session(server.url) as session:
        day = data_of(await call(session, "daily_progress", "today", user))
    return [entry["food"] for entry in day["entries"]]


def assert_refused(response: httpx2.Response, error: str | None) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="nutrisense-mcp"')
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)
    body = response.json()
    assert body["error"]["code"] == UNAUTHORIZED_CODE
    assert body["error"]["message"].startswith("Unauthorized: ")
    assert MCP_TEST_TOKEN not in response.text


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        pytest.param(None, None, id="no-token"),
        pytest.param(f"Bearer {MCP_TEST_TOKEN}x", "invalid_token", id="wrong-token"),
        pytest.param(f"Bearer {MCP_TEST_TOKEN[:-1]}", "invalid_token", id="prefix-of-the-token"),
        pytest.param(f"Basic {MCP_TEST_TOKEN}", "invalid_request", id="not-bearer"),
        pytest.param("Bearer", "invalid_request", id="bearer-without-a-token"),
    ],
)
async def test_a_call_without_the_token_is_refused_and_writes_nothing(
    mcp_server: McpServerProcess, authorization: str | None, error: str | None
) -> None:
    user = User.fresh()
    request = food_log_request("2 eggs", user)
    headers = {**ACCEPT, **({"authorization": authorization} if authorization else {})}
    async with httpx2.AsyncClient() as http:
        refused = await http.post(mcp_server.url, json=request, headers=headers)
        assert_refused(refused, error)
        assert await foods_logged(mcp_server, user) == []

        # The same request with the token (the scheme is case-insensitive) does write.
        token = {"authorization": f"bearer {MCP_TEST_TOKEN}"}
        accepted = await http.post(mcp_server.url, json=request, headers={**ACCEPT, **token})
    assert accepted.status_code == 200, accepted.text
    assert await foods_logged(mcp_server, user) == ["egg"]


async def test_identity_in_headers_without_the_token_is_refused_and_writes_nothing(
    mcp_server: McpServerProcess,
) -> None:
    """X-User-Id/X-Tenant-Id are a claim: only the authenticated worker may make it."""
    user = User.fresh(tenant_id="tenant-h")
    request = food_log_request("1 pear", None)
    claim = {**ACCEPT, "x-user-id": user.user_id, "x-tenant-id": user.tenant_id}
    async with httpx2.AsyncClient() as http:
        refused = await http.post(mcp_server.url, json=request, headers=claim)
        assert_refused(refused, None)
        assert await foods_logged(mcp_server, user) == []

        authenticated = {**claim, **mcp_server.auth_headers}
        accepted = await http.post(mcp_server.url, json=request, headers=authenticated)
    assert accepted.status_code == 200, accepted.text
    assert await foods_logged(mcp_server, user) == ["pear"]


async def test_every_transport_needs_the_token_and_only_health_and_metrics_are_open(
    mcp_server: McpServerProcess,
) -> None:
    async with httpx2.AsyncClient(base_url=mcp_server.base_url) as http:
        health = await http.get("/healthz")
        scrape = await http.get("/metrics")
        legacy_stream = await http.get("/sse", headers={"accept": "text/event-stream"})
        legacy_post = await http.post("/messages/?session_id=0", json={})
        elsewhere = await http.get("/anything-added-later")
        listing = await http.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=ACCEPT
        )
    assert health.status_code == 200
    assert scrape.status_code == 200
    for response in (legacy_stream, legacy_post, elsewhere, listing):
        assert_refused(response, None)


async def test_the_mcp_client_without_the_token_gets_the_reason(
    mcp_server: McpServerProcess,
) -> None:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the SDK wraps it in task groups
        async with mcp_session(mcp_server.url, token=None):
            pass
    refusals = [e for e in leaves(raised.value) if isinstance(e, MCPError)]
    assert [e.code for e in refusals] == [UNAUTHORIZED_CODE]
    assert refusals[0].message.startswith("Unauthorized: no credentials")


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


async def test_the_worker_calls_with_its_token_end_to_end(mcp_server: McpServerProcess) -> None:
    user = User.fresh()
    meta = dict(user.meta())
    tools = McpTools(mcp_server.url, auth_token=SecretStr(mcp_server.token), timeout_s=10)
    try:
        listed = await tools.list_tools()
        logged = await tools.call_tool("food_log", {"user_query": "1 banana"}, meta, 10)
        router = await tools.prompt_text("router")
    finally:
        await tools.aclose()
    assert len(listed) == 4
    assert data_of(logged)["items"][0]["food"] == "banana"
    assert router
    assert await foods_logged(mcp_server, user) == ["banana"]


async def test_a_worker_with_the_wrong_token_gets_a_clear_error_and_writes_nothing(
    mcp_server: McpServerProcess,
) -> None:
    user = User.fresh()
    wrong = "not-the-servers-token-at-all"
    tools = McpTools(mcp_server.url, auth_token=SecretStr(wrong), timeout_s=10)
    try:
        with pytest.raises(McpAuthError) as refused:
            await tools.call_tool("food_log", {"user_query": "1 banana"}, dict(user.meta()), 10)
    finally:
        await tools.aclose()
    # An OSError: the tool-call activity reports it as "tool unavailable", with this text.
    assert isinstance(refused.value, OSError)
    message = str(refused.value)
    assert "MCP_AUTH_TOKEN must be the same" in message
    assert wrong not in message
    assert MCP_TEST_TOKEN not in message
    assert await foods_logged(mcp_server, user) == []


def test_the_server_will_not_start_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_AUTH_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'never.db'}"
    started = subprocess.run(
        [sys.executable, "-m", "services.mcp_server", "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 1
    assert started.stderr.strip().splitlines() == [NO_TOKEN]
    assert "MCP_AUTH_TOKEN is not set" in started.stderr
    assert not (tmp_path / "never.db").exists()  # stopped before opening anything


async def test_with_auth_disabled_anyone_may_call_and_the_log_says_so_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The local-development opt-out: explicit, and never silent."""
    settings = McpServerSettings(
        database_url=f"sqlite:///{tmp_path / 'diary.db'}", mcp_auth_disabled=True
    )
    user = User.fresh()
    with caplog.at_level(logging.WARNING, logger="services.mcp_server"):
        app = create_app(settings, telemetry=False)
    assert "MCP_AUTH_DISABLED=true" in caplog.text
    assert "EVERY caller" in caplog.text
    async with serve(app) as base_url, mcp_session(f"{base_url}/mcp", token=None) as session:
        logged = data_of(await call(session, "food_log", "1 apple", user))
    assert logged["items"][0]["food"] == "apple"


async def test_the_token_can_come_from_a_file(tmp_path: Path) -> None:
    """MCP_AUTH_TOKEN_FILE, as Compose and Kubernetes secrets provide it (a trailing newline)."""
    token_file = tmp_path / "token"
    token_file.write_text("a-token-from-a-secret-file\n")
    settings = McpServerSettings(
        database_url=f"sqlite:///{tmp_path / 'diary.db'}", mcp_auth_token_file=token_file
    )
    user = User.fresh()
    async with serve(create_app(settings, telemetry=False)) as base_url:
        url = f"{base_url}/mcp"
        async with httpx2.AsyncClient() as http:
            with_env_token = await http.post(
                url,
                json=food_log_request("1 apple", user),
                headers={**ACCEPT, "authorization": f"Bearer {MCP_TEST_TOKEN}"},
            )
        assert_refused(with_env_token, "invalid_token")
        async with mcp_session(url, token="a-token-from-a-secret-file") as session:
            logged = data_of(await call(session, "food_log", "1 apple", user))
    assert logged["items"][0]["food"] == "apple"
