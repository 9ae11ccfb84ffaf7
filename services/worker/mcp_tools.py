"""The MCP side: tool calls, tool listings and prompts over streamable HTTP.

The server is stateless, so each use opens a short MCP session over ONE shared HTTP client per
worker process (session set-up then costs a few milliseconds, not a new connection). Keeping
each session inside the task that uses it also keeps anyio's task-bound scopes happy.

Every request carries the MCP server's shared secret (`Authorization: Bearer`), set once on that
client. The token lives only in this process: not in activity inputs, events or history, and
neither httpx nor its telemetry records request headers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx2
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import (
    CallToolResult,
    GetPromptResult,
    PaginatedRequestParams,
    RequestParamsMeta,
    TextContent,
    Tool,
)
from pydantic import SecretStr

from services.mcp_server.auth_token import UNAUTHORIZED_CODE

logger = logging.getLogger(__name__)


class McpAuthError(PermissionError):
    """The MCP server refused this worker's token. An OSError, so the tool-call activity reports
    it as the tool being unavailable, with this message, rather than as a bug."""


class McpTools:
    def __init__(self, url: str, *, auth_token: SecretStr | None, timeout_s: float = 30.0) -> None:
        """`auth_token` is required to be named: None only for a server run with auth disabled."""
        self.url = url
        headers = {}
        if auth_token is not None:
            headers["Authorization"] = f"Bearer {auth_token.get_secret_value()}"
        else:
            logger.warning(
                "MCP_AUTH_TOKEN is not set: MCP requests go without credentials, and the MCP "
                "server refuses them unless it runs with MCP_AUTH_DISABLED=true"
            )
        self._http = httpx2.AsyncClient(
            headers=headers, timeout=httpx2.Timeout(timeout_s, connect=5.0)
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[ClientSession]:
        try:
            async with (
                streamable_http_client(
                    self.url, http_client=self._http, terminate_on_close=False
                ) as (read, write),
                ClientSession(read, write) as session,
            ):
                await self._initialize(session)
                yield session
        except ExceptionGroup as group:
            # The transport's task groups wrap it twice; the activity's error should say it.
            refused = group.subgroup(McpAuthError)
            if refused is None:
                raise
            leaf: BaseException = refused
            while isinstance(leaf, BaseExceptionGroup):
                leaf = leaf.exceptions[0]
            raise leaf from None

    async def _initialize(self, session: ClientSession) -> None:
        try:
            await session.initialize()
        except MCPError as exc:
            if exc.code != UNAUTHORIZED_CODE:
                raise
            raise McpAuthError(
                f"the MCP server at {self.url} refused this worker ({exc.message}); "
                "MCP_AUTH_TOKEN must be the same for the workers and the MCP server"
            ) from None

    async def call_tool(
        self, name: str, arguments: dict[str, Any], meta: dict[str, Any], timeout_s: float
    ) -> CallToolResult:
        async with self.session() as session:
            return await session.call_tool(
                name,
                arguments,
                read_timeout_seconds=timeout_s,
                meta=cast(RequestParamsMeta, meta),
            )

    async def list_tools(self) -> list[Tool]:
        async with self.session() as session:
            tools: list[Tool] = []
            cursor: str | None = None
            while True:
                params = PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await session.list_tools(params=params)
                tools += page.tools
                cursor = page.next_cursor
                if not cursor:
                    return tools

    async def prompt_text(self, name: str) -> str:
        async with self.session() as session:
            prompt = await session.get_prompt(name)
        if not isinstance(prompt, GetPromptResult):
            raise RuntimeError(f"MCP prompt {name!r} asked for input instead of answering")
        parts = [
            message.content.text
            for message in prompt.messages
            if isinstance(message.content, TextContent)
        ]
        return "\n\n".join(parts)
