"""`python -m services.gateway --host 127.0.0.1 --port 8000`: the gateway under gunicorn.

Settings are checked here first so a missing `GATEWAY_API_KEYS` or a Temporal connection that
cannot work (a wrong CA, server name or key) is one line, not a worker boot traceback; then this
process becomes the gunicorn master (signals reach it directly).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from services.common.prometheus import prepare_multiprocess_dir
from services.common.redis_client import check_redis, redis_client
from services.common.settings import ConfigError, RedisSettings, TemporalSettings, load_settings
from services.common.temporal_client import connect_temporal, exit_with
from services.gateway.settings import GatewaySettings

CONFIG = Path(__file__).resolve().parent / "gunicorn_conf.py"
APP = "services.gateway.app:app"


def gunicorn_argv(host: str, port: int, workers: int | None) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", "-c", str(CONFIG)]
    argv += ["-k", "uvicorn_worker.UvicornWorker", "--bind", f"{host}:{port}"]
    if workers is not None:
        argv += ["--workers", str(workers)]
    return [*argv, APP]


async def preflight(temporal: TemporalSettings, redis: RedisSettings) -> None:
    """Connect once, as each gunicorn worker will: settings that cannot work raise ConfigError
    (one line); a Redis that is only down does not stop the gateway."""
    await connect_temporal(temporal)
    client = redis_client(redis)
    try:
        await check_redis(client, redis)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.gateway", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("GATEWAY_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=None, help="default: WEB_CONCURRENCY")
    args = parser.parse_args(argv)
    settings = load_settings(GatewaySettings)  # raises ConfigError: one line naming the variable
    temporal, redis = load_settings(TemporalSettings), load_settings(RedisSettings)
    # Before the exec: the connections' runtime goes with this process image.
    try:
        asyncio.run(preflight(temporal, redis))
    except ConfigError as error:
        exit_with(error)
    if settings.gateway_metrics:
        prepare_multiprocess_dir()  # before any worker imports prometheus-client
    command = gunicorn_argv(args.host, args.port, args.workers)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
