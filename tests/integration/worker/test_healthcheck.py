"""docker/healthcheck_worker.py: healthy while a worker of this host polls its task queue, and
it connects the way the worker does (services/common/temporal_client.py)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from scripts.stack.processes import apoll
from services.worker.worker import WorkerParts

HEALTHCHECK = Path(__file__).resolve().parents[3] / "docker" / "healthcheck_worker.py"


def healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck_worker", HEALTHCHECK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def temporal_env(monkeypatch: pytest.MonkeyPatch, temporal_server: Any) -> pytest.MonkeyPatch:
    for name in [n for n in os.environ if n.startswith("TEMPORAL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_server.address)
    return monkeypatch


async def test_healthy_while_this_hosts_worker_polls_its_queue(
    temporal_env: pytest.MonkeyPatch, session_worker: WorkerParts
) -> None:
    check = healthcheck().check
    temporal_env.setenv("TEMPORAL_TASK_QUEUE", session_worker.worker.task_queue)
    reasons: list[str | None] = []

    async def healthy() -> bool:
        reasons.append(await check())
        return reasons[-1] is None

    assert await apoll(healthy, 30), reasons[-1]
    temporal_env.setenv("TEMPORAL_TASK_QUEUE", "a-queue-nobody-polls")
    reason = await check()
    assert reason is not None
    assert "no recent poller" in reason


def test_unhealthy_in_one_line_when_temporal_cannot_be_reached(
    temporal_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal_env.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    assert healthcheck().main() == 1
    line = capsys.readouterr().err.strip()
    assert line.startswith("worker unhealthy: cannot ask Temporal:"), line
    assert "nothing listens there" in line
