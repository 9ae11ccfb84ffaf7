"""A small MCP server over stdio for the worker's stdio tests: it reports what it was started
with (its pid, its environment) and has a tool that hangs, so a test can kill it mid-call."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("stdio-test")


@server.tool(description="The server process's id")
def pid() -> int:
    return os.getpid()


@server.tool(description="An environment variable of the server process, or null")
def env(name: str) -> str | None:
    return os.environ.get(name)


@server.tool(description="Creates the file `started`, then waits until the process is killed")
async def hang(started: str) -> str:
    Path(started).touch()  # noqa: ASYNC240 (one tiny file, before the wait)
    await asyncio.Event().wait()  # nothing sets it: only the test's kill ends this call
    return "woke"


@server.prompt(description="Instructions from this server")
def intro() -> str:
    return "You answer from the stdio test server."


if __name__ == "__main__":
    asyncio.run(server.run_stdio_async())
