"""Fidelity: the SDK's own tool loop (`mistralai.extra` `run_async` / `run_stream_async`) with a
real MCP client and server runs against the simulator exactly as it would against the API."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# `mistralai.extra.run` needs griffe (the SDK's `agents` extra), which the lock does not carry
# yet: run with `uv run --with "griffe>=1.7.3,<2" pytest ...` until it does.
pytest.importorskip("griffe", reason="mistralai.extra.run needs griffe (mistralai[agents])")

from mcp import StdioServerParameters
from mistralai.client import Mistral, models
from mistralai.extra.mcp.stdio import MCPClientSTDIO
from mistralai.extra.run.context import RunContext
from mistralai.extra.run.result import RunResult

SERVER = Path(__file__).with_name("tiny_mcp_server.py")


def _mcp_client() -> MCPClientSTDIO:
    return MCPClientSTDIO(
        stdio_params=StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    )


async def test_run_async_agent_mode_with_mcp_tool(aclient: Mistral) -> None:
    agent = await aclient.beta.agents.create_async(
        model="mistral-medium-2505",
        name="daily-progress-agent",
        description="Reports today's totals against the goals.",
    )
    async with RunContext(agent_id=agent.id) as ctx:
        await ctx.register_mcp_client(_mcp_client())
        result = await aclient.beta.conversations.run_async(
            run_ctx=ctx, inputs="What is my progress so far today?"
        )
    assert [type(e) for e in result.output_entries] == [
        models.FunctionCallEntry,
        models.FunctionResultEntry,
        models.MessageOutputEntry,
    ]
    assert "1200 of 2000 kcal" in result.output_as_text
    assert "What is my progress so far today?" in result.output_as_text
    # RunContext PATCHed the agent's tools: a new version that echoes the MCP tool in full.
    patched = await aclient.beta.agents.get_async(agent_id=agent.id)
    assert patched.version == 1
    assert [t.function.name for t in patched.tools or [] if isinstance(t, models.FunctionTool)] == [
        "daily_progress"
    ]


async def test_run_stream_async_model_mode_with_local_function(aclient: Mistral) -> None:
    def get_weather(city: str) -> str:
        """Weather for a city.

        Args:
            city: the city
        """
        return f"sunny in {city}"

    async with RunContext(model="mistral-small-latest") as ctx:
        ctx.register_func(get_weather)
        stream = await aclient.beta.conversations.run_stream_async(run_ctx=ctx, inputs="Paris")
        items = [item async for item in stream]
    result = items[-1]
    assert isinstance(result, RunResult)
    assert result.output_as_text == "Here is the result. sunny in Paris"
    kinds = {type(item.data).__name__ for item in items[:-1]}  # type: ignore[union-attr]
    assert "UnknownConversationEventsData" not in kinds
    assert {"FunctionCallEvent", "MessageOutputEvent", "FunctionResultEvent"} <= kinds
