"""`python -m services.worker`: run one worker process until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from contextlib import AsyncExitStack

import uvloop

from services.common.logs import setup_logging
from services.common.settings import ConfigError, TemporalSettings, load_settings
from services.common.telemetry import setup_telemetry
from services.common.temporal_client import connect_config, connect_temporal, describe, exit_with
from services.worker import metrics
from services.worker.mcp_servers import McpServers
from services.worker.model_endpoint import ModelCheckSettings, check_model_endpoint
from services.worker.settings import WorkerSettings
from services.worker.worker import build_worker

log = logging.getLogger("services.worker")


async def main() -> None:
    settings = load_settings(WorkerSettings)
    temporal = load_settings(TemporalSettings)
    model_check = load_settings(ModelCheckSettings)
    # A bad team file (or a stdio server's command that is nowhere) stops the worker here, with
    # one line, before any connection is tried.
    McpServers.from_settings(settings)
    telemetry = setup_telemetry("worker", httpx=True, redis=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await connect_temporal(
        temporal,
        interceptors=telemetry.temporal_interceptors(),
        runtime=metrics.runtime(settings.worker_metrics_address)
        if settings.worker_metrics_address
        else None,
    )
    # Without a key, a simulator that is not there would fail every turn: stop now instead.
    await check_model_endpoint(settings, model_check.model_start_wait_s)
    async with AsyncExitStack() as stack:
        parts = await build_worker(settings, client, stack, task_queue=temporal.task_queue)
        model = "the simulator" if settings.uses_simulator else "the Mistral API"
        log.info(
            "worker polling %s on %s (%s at %s)",
            temporal.task_queue,
            describe(connect_config(temporal)),
            model,
            settings.mistral_url,
        )
        async with parts.worker:
            # What start-up allocated stays: later collections need not walk it again.
            gc.freeze()
            await stop.wait()
            log.info(
                "stopping: finishing running activities (up to %ss)", settings.graceful_shutdown_s
            )


if __name__ == "__main__":
    setup_logging("worker")
    try:
        uvloop.run(main())
    except ConfigError as error:
        exit_with(error)
