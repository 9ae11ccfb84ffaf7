"""A worker process killed mid-stream: another worker finishes the turn, nothing is doubled."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from scripts.stack.processes import ManagedProcess, apoll, python_module
from services.common.events import MessageDelta, TurnCompleted, parse_event
from tests.fixtures.mistral_sim import MistralSim, start_mistral_sim
from tests.fixtures.worker import SessionDriver


@pytest.fixture(scope="module")
def paced_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MistralSim]:
    """A simulator that streams at a human pace, so a kill lands mid-reply."""
    sim = start_mistral_sim(
        tmp_path_factory.mktemp("paced_sim"), {"SIM_TOKENS_PER_S": "60", "SIM_FIRST_TOKEN_MS": "0"}
    )
    yield sim
    sim.process.stop()


@pytest.fixture
def worker_pool(
    tmp_path: Path, temporal_server: Any, redis_url: str, paced_sim: MistralSim, mcp_server: Any
) -> Iterator[tuple[str, list[ManagedProcess]]]:
    task_queue = f"failover-{uuid.uuid4().hex[:8]}"
    env = {
        "TEMPORAL_ADDRESS": temporal_server.address,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "REDIS_URL": redis_url,
        "MISTRAL_SERVER_URL": paced_sim.url,
        "MCP_SERVER_URL": mcp_server.url,
        "MCP_AUTH_TOKEN": mcp_server.token,
    }
    env.pop("MISTRAL_API_KEY", None)
    workers = [
        ManagedProcess(
            f"worker-{n}", python_module("services.worker"), log_dir=tmp_path, env=env
        ).start()
        for n in (1, 2)
    ]
    yield task_queue, workers
    for worker in workers:
        worker.stop()


async def test_worker_killed_mid_stream_turn_completes_on_another(
    worker_pool: tuple[str, list[ManagedProcess]],
    temporal_client: Client,
    bus_redis: Any,
    paced_sim: MistralSim,
) -> None:
    from services.common.bus import EventBus

    task_queue, workers = worker_pool
    driver = SessionDriver(temporal_client, EventBus(bus_redis), task_queue)
    handle = await driver.start()
    first = await driver.submit(handle, "Set my calorie goal to 2000 calories.")
    await driver.events_until_done(handle, first.turn_id, within=60)

    query = "Log the food for lunch - I had half a cup of rice and 150g grilled chicken."
    turn = await driver.submit(handle, query)

    async def mid_stream() -> bool:
        events = [e async for e in driver.bus.read_after(driver.key(handle), None)]
        return sum(e.type == "message.delta" and turn.turn_id in e.data for e in events) >= 3

    assert await apoll(mid_stream, 30), "the reply never started streaming"
    description = await handle.describe()
    pending = description.raw_description.pending_activities
    assert pending, "no activity running mid-stream"
    victim_pid = int(pending[0].last_worker_identity.split("@", 1)[0])
    assert victim_pid in {w.pid for w in workers}
    os.kill(victim_pid, signal.SIGKILL)

    events = [parse_event(e.data) for e in await driver.events_until_done(handle, turn.turn_id, 60)]

    mine = [e for e in events if e.turn_id == turn.turn_id]
    types = [e.type for e in mine]
    assert "turn.retry" in types
    assert types[-1] == "turn.completed"
    retry_at = len(types) - 1 - types[::-1].index("turn.retry")
    assert any(isinstance(e, MessageDelta) for e in mine[:retry_at]), "kill was not mid-stream"
    completed = mine[-1]
    assert isinstance(completed, TurnCompleted)
    # What a client shows after dropping the partial text at turn.retry is the whole reply.
    assert (
        "".join(e.text for e in mine[retry_at:] if isinstance(e, MessageDelta)) == completed.output
    )
    status = await driver.status(handle)
    assert paced_sim.user_inputs(status.conversation_id or "") == [
        "Set my calorie goal to 2000 calories.",
        query,
    ]
