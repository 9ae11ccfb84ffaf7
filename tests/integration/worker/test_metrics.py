"""The worker's metrics (services/worker/metrics.py) on its Prometheus endpoint: turns, model
and tool calls, time to first token, approvals, and the SDK's own worker metrics. A turn that
another worker replays is not counted again."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from temporalio.client import Client

from scripts.stack.processes import free_port
from services.common import metrics
from services.common.bus import EventBus
from services.common.sessions import DECIDE_APPROVAL, ApprovalDecision
from services.common.temporal_client import DATA_CONVERTER
from services.worker import metrics as worker_metrics
from services.worker.worker import build_worker
from tests.fixtures.prometheus import scrape, value
from tests.fixtures.worker import SessionDriver
from tests.integration.worker.test_approvals import LOG_QUERY, approval_request


async def test_a_turns_metrics_and_no_second_count_on_replay(
    temporal_server: Any, bus_redis: Any, make_settings: Callable[..., Any]
) -> None:
    port = free_port()
    client = await Client.connect(
        temporal_server.address,
        namespace=temporal_server.namespace,
        runtime=worker_metrics.runtime(f"127.0.0.1:{port}"),
        data_converter=DATA_CONVERTER,
    )
    settings = make_settings(approval_tools="food_log")
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    driver = SessionDriver(client, EventBus(bus_redis), queue)
    endpoint = f"http://127.0.0.1:{port}/metrics"

    async with AsyncExitStack() as stack:  # the first worker runs one turn, then goes
        parts = await build_worker(settings, client, stack, task_queue=queue)
        async with parts.worker:
            handle = await driver.start()
            first = await driver.submit(handle, "How is my progress today?")
            await driver.events_until_done(handle, first.turn_id)

    text = await scrape(endpoint)
    assert value(text, metrics.TURNS.sample, outcome="completed") == 1
    assert value(text, metrics.MODEL_CALLS.sample, outcome="ok") >= 2  # the tool, the answer
    assert value(text, metrics.TOOL_CALLS.sample, outcome="ok") >= 1
    assert value(text, f"{metrics.TIME_TO_FIRST_TOKEN.name}_count") == 1
    assert value(text, f"{metrics.TURN_DURATION.name}_count", outcome="completed") == 1
    assert "temporal_worker_task_slots_available" in text  # the SDK's own, same endpoint

    async with AsyncExitStack() as stack:  # another worker replays the first turn, runs one
        parts = await build_worker(settings, client, stack, task_queue=queue)
        async with parts.worker:
            second = await driver.submit(handle, LOG_QUERY)
            request = await approval_request(driver, handle)
            await handle.execute_update(
                DECIDE_APPROVAL,
                ApprovalDecision(approval_id=request.approval_id, approve=True, reason="fine"),
            )
            await driver.events_until_done(handle, second.turn_id)

    text = await scrape(endpoint)
    assert value(text, metrics.TURNS.sample) == 2, "a replayed turn was counted again"
    assert value(text, f"{metrics.TIME_TO_FIRST_TOKEN.name}_count") == 2
    assert value(text, metrics.APPROVALS_REQUESTED.sample) == 1
    assert value(text, metrics.APPROVALS_RESOLVED.sample, outcome="approved") == 1
    assert value(text, metrics.TOOL_CALLS.sample, tool="food_log", outcome="ok") == 1
