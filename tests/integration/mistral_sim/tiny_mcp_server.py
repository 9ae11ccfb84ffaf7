"""A tiny stdio MCP server for the fidelity test: one tool in the platform's shape."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("tiny-nutrition")


@server.tool()
def daily_progress(user_query: str) -> str:
    """Provide daily progress for the food taken by user so far."""
    return f"You ate 1200 of 2000 kcal today (asked: {user_query})."


if __name__ == "__main__":
    server.run("stdio")
