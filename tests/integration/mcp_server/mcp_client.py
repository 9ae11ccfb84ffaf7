"""The official MCP client over streamable HTTP, as the worker uses it, for these tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, RequestParamsMeta, TextContent

from tests.fixtures.mcp_server import MCP_TEST_TOKEN


@dataclass(frozen=True)
class User:
    """A caller identity, sent in the request `_meta` like the worker does."""

    user_id: str
    tenant_id: str = "tenant-a"
    timezone: str | None = None

    @classmethod
    def fresh(cls, tenant_id: str = "tenant-a", timezone: str | None = None) -> User:
        return cls(f"user-{uuid.uuid4().hex[:10]}", tenant_id, timezone)

    def meta(self, **extra: str) -> RequestParamsMeta:
        meta: dict[str, Any] = {"user_id": self.user_id, "tenant_id": self.tenant_id, **extra}
        if self.timezone:
            meta["timezone"] = self.timezone
        # An open map on the wire; the TypedDict only names the protocol's own keys.
        return cast("RequestParamsMeta", meta)


@asynccontextmanager
async def mcp_session(
    url: str, headers: Mapping[str, str] | None = None, *, token: str | None = MCP_TEST_TOKEN
) -> AsyncIterator[ClientSession]:
    """A session as the worker opens one: with the bearer token (`token=None`: without)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with (
        httpx2.AsyncClient(headers=sent, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, query: str, user: User | None) -> CallToolResult:
    meta = user.meta() if user else None
    return await session.call_tool(tool, {"user_query": query}, meta=meta)


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def data_of(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful call (fails the test on an error result)."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)
