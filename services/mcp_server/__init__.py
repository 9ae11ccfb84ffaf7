"""NutriSense MCP server: the food-diary tools and the agents' prompts, over streamable HTTP.

Start with `python -m services.mcp_server --host 127.0.0.1 --port 9000 [--workers N]`.
"""
