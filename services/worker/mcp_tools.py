"""The MCP side: tool calls, tool listings and prompts over streamable HTTP.

The server is stateless, so each use opens a short MCP session over ONE shared HTTP client per
worker process (session set-up then costs a few milliseconds, not a new connection). Keeping
each session inside the task that uses it also keeps anyio's task-bound scopes happy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import (
    CallToolResult,
    GetPromptResult,
    PaginatedRequestParams,
    RequestParamsMeta,
    TextContent,
    Tool,
)


class McpTools:
    def __init__(self, url: str, *, timeout_s: float = 30.0) -> None:
        self.url = url
        self._http = httpx2.AsyncClient(timeout=httpx2.Timeout(timeout_s, connect=5.0))

    async def aclose(self) -> None:
        await self._http.aclose()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[ClientSession]:
        async with (
            streamable_http_client(self.url, http_client=self._http, terminate_on_close=False) as (
                read,
                write,
            ),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session

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
