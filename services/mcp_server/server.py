"""The MCP server object: NutriSense tools and agent prompts, nothing else."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts import Prompt
from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations

from services.mcp_server.diary import NutritionDiary
from services.mcp_server.prompts import AGENT_PROMPTS
from services.mcp_server.tools import ADDS, READS, REPLACES, USER_QUERY_SCHEMA, NutriSenseTools

SERVER_NAME = "nutrisense"
INSTRUCTIONS = (
    "NutriSense food diary. Every tool takes the user's words as `user_query`; the user is "
    "identified by the request _meta (user_id, tenant_id, timezone), never by an argument."
)


def _tool(fn: Callable[..., Any], title: str, annotations: ToolAnnotations) -> Tool:
    description = inspect.cleandoc(fn.__doc__ or "")  # the docstring without its indentation
    tool = Tool.from_function(fn, title=title, description=description, annotations=annotations)
    # Publish exactly the agents' schema, not the one derived from the signature (titles etc.).
    return tool.model_copy(update={"parameters": USER_QUERY_SCHEMA})


def build_server(diary: NutritionDiary) -> MCPServer:
    tools = NutriSenseTools(diary)
    server: MCPServer = MCPServer(
        SERVER_NAME,
        title="NutriSense",
        instructions=INSTRUCTIONS,
        version="1.0.0",
        tools=[
            _tool(tools.goal_setting, "Set daily nutrition goals", REPLACES),
            _tool(tools.food_log, "Log food eaten", ADDS),
            _tool(tools.food_recommendations, "Recommend a meal", READS),
            _tool(tools.daily_progress, "Daily progress against goals", READS),
        ],
    )
    for name, write in AGENT_PROMPTS.items():
        server.add_prompt(Prompt.from_function(write, name=name))
    return server
