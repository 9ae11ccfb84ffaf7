"""The floor: the platform's turn without the platform.

The same turn the concurrency section sends through the gateway (router agent -> handoff ->
function call -> MCP tool -> streamed answer), driven by a plain asyncio program with the
`mistralai` SDK and the MCP client against the same simulator and MCP server: no Temporal, no
Redis, no gateway. Each session starts a conversation on the entry agent the platform
registered, calls the tool the model asked for over ONE MCP client session shared by every
turn, and appends the result, streaming the answer. What the platform adds is everything this
program does not do: durability, fan-out and the HTTP API.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import RequestParamsMeta, TextContent
from mistralai.client import Mistral
from mistralai.client import models as m

from scripts.bench.common import burst_figures
from services.worker.mcp_tools import HTTP_LIMITS

ENTRY_AGENT = "router-agent"


@dataclass
class DirectTurn:
    """One turn on the direct path: when it began, its first text delta, its end."""

    started: float = field(default_factory=time.perf_counter)
    first_delta: float | None = None
    ended: float | None = None
    tool_calls: int = 0
    error: str | None = None

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_delta is None else (self.first_delta - self.started) * 1000.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.ended is not None and self.first_delta is not None


async def entry_agent(client: Mistral) -> tuple[str, int | None]:
    """The entry agent the platform registered (newest first: a re-registration wins)."""
    response = await client.beta.agents.list_pages_async(page_size=100, name=ENTRY_AGENT)
    found = [a for a in (response.result.data if response else []) if a.name == ENTRY_AGENT]
    if not found:
        raise RuntimeError(f"no {ENTRY_AGENT!r} on the simulator: run a platform turn first")
    agent = max(found, key=lambda a: a.created_at)
    version = getattr(agent, "version", None)
    return agent.id, version if isinstance(version, int) else None


@asynccontextmanager
async def mcp_session(url: str, token: str) -> AsyncIterator[ClientSession]:
    """One MCP client session for the whole run, as a long-lived direct program would keep."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(
            headers=headers,
            timeout=httpx2.Timeout(60.0),
            limits=HTTP_LIMITS,  # as the worker's
        ) as http,
        streamable_http_client(url, http_client=http, terminate_on_close=False) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


class DirectPath:
    """Runs turns the way the worker would, minus the platform."""

    def __init__(self, client: Mistral, mcp: ClientSession, agent: tuple[str, int | None]) -> None:
        self.client = client
        self.mcp = mcp
        self.agent_id, self.agent_version = agent

    async def _stream(
        self, stream: Any, turn: DirectTurn
    ) -> tuple[str | None, list[m.FunctionCallEvent]]:
        conversation_id: str | None = None
        calls: dict[str, m.FunctionCallEvent] = {}
        async with stream as events:
            async for event in events:
                data = event.data
                if isinstance(data, m.ResponseStartedEvent):
                    conversation_id = data.conversation_id
                elif isinstance(data, m.MessageOutputEvent) and data.content:
                    if turn.first_delta is None:
                        turn.first_delta = time.perf_counter()
                elif isinstance(data, m.FunctionCallEvent):
                    known = calls.get(data.tool_call_id)
                    if known is None:
                        calls[data.tool_call_id] = data.model_copy()
                    else:
                        known.arguments = str(known.arguments) + str(data.arguments)
                elif isinstance(data, m.ResponseErrorEvent):
                    raise RuntimeError(f"model error {data.code}: {data.message}")
        return conversation_id, list(calls.values())

    async def _tool(self, call: m.FunctionCallEvent, user_id: str, turn_key: str) -> str:
        meta = {"user_id": user_id, "tenant_id": "bench", "idempotency_key": turn_key}
        result = await self.mcp.call_tool(
            call.name,
            json.loads(str(call.arguments) or "{}"),
            meta=cast(RequestParamsMeta, meta),
        )
        texts = [block.text for block in result.content if isinstance(block, TextContent)]
        return "\n".join(texts) or json.dumps(result.structured_content)

    async def turn(self, prompt: str, user_id: str) -> DirectTurn:
        turn = DirectTurn()
        conversations = self.client.beta.conversations
        try:
            stream = await conversations.start_stream_async(
                agent_id=self.agent_id, agent_version=self.agent_version, inputs=prompt
            )
            conversation_id, calls = await self._stream(stream, turn)
            for _ in range(4):  # the platform's step limit is larger; this turn takes two
                if not calls:
                    break
                if conversation_id is None:
                    raise RuntimeError("the stream never named its conversation")
                turn.tool_calls += len(calls)
                outputs = await asyncio.gather(
                    *(self._tool(c, user_id, f"{user_id}:{c.tool_call_id}") for c in calls)
                )
                inputs: list[Any] = [
                    m.FunctionResultEntry(tool_call_id=c.tool_call_id, result=out)
                    for c, out in zip(calls, outputs, strict=True)
                ]
                stream = await conversations.append_stream_async(
                    conversation_id=conversation_id, inputs=inputs
                )
                _, calls = await self._stream(stream, turn)
            turn.ended = time.perf_counter()
        except Exception as exc:  # a failed turn is counted, not fatal
            turn.error = f"{type(exc).__name__}: {exc}"
        return turn


async def burst(path: DirectPath, prompt: str, n: int) -> dict[str, Any]:
    """n turns at once on n fresh conversations; the figures the platform's burst reports."""
    began = time.perf_counter()
    turns = await asyncio.gather(*(path.turn(prompt, f"bench-direct-{i}") for i in range(n)))
    wall = time.perf_counter() - began
    ok = [t for t in turns if t.ok]
    figures = burst_figures(
        n,
        wall,
        [t.ttft_ms for t in ok if t.ttft_ms is not None],
        [(t.ended - t.started) * 1000.0 for t in ok if t.ended is not None],
        [t.error or "no answer" for t in turns if not t.ok],
    )
    figures["tool_calls"] = sum(t.tool_calls for t in turns)
    return figures
