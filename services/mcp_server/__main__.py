"""Start the NutriSense MCP server: `python -m services.mcp_server --host 127.0.0.1 --port 9000`.

`--workers N` runs N processes (uvicorn's supervisor); the transport is stateless so any process
can answer any request. Gunicorn works too (the schema is created by each worker's start):
  gunicorn -k uvicorn_worker.UvicornWorker -w 4 -b 0.0.0.0:9000 \
      'services.mcp_server.app:create_app()'
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from services.common.logs import log_config, setup_logging
from services.common.prometheus import prepare_multiprocess_dir
from services.common.settings import ConfigError, load_settings
from services.mcp_server.auth import server_token
from services.mcp_server.settings import McpServerSettings
from services.mcp_server.store import NutritionStore


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.mcp_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    return parser.parse_args(argv)


async def _prepare_schema(database_url: str) -> None:
    store = await NutritionStore.open(database_url)
    await store.close()


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    settings = load_settings(McpServerSettings)  # fail fast, with the variable's name
    server_token(settings)  # no MCP_AUTH_TOKEN (and no explicit opt-out): one line, exit 1
    setup_logging("mcp-server", settings.mcp_log_level)
    # Once here, before the workers start, so they never race to create the tables.
    try:
        asyncio.run(_prepare_schema(settings.database_url))
    except (OSError, SQLAlchemyError) as exc:
        raise ConfigError(f"cannot open the store at DATABASE_URL: {exc}") from None
    if args.workers > 1:  # each process records apart; a scrape of any sums them
        prepare_multiprocess_dir()
    uvicorn.run(
        "services.mcp_server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.mcp_log_level.lower(),
        log_config=log_config("mcp-server", settings.mcp_log_level),
        timeout_graceful_shutdown=10,
        # Longer than an httpx client keeps an idle connection (5 s): the client drops it first,
        # never sending on a connection this server is closing.
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
