"""`make dev`'s supervisor: Temporal and Redis are restarted like the services, first, and a
crash-looping one stops the stack as a service does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from scripts.dev import LogTail, supervise
from scripts.stack.local import LocalStack
from scripts.stack.processes import StartupError


@dataclass
class FakeProcess:
    up: bool = True
    proc: Any = None

    def alive(self) -> bool:
        return self.up


@dataclass
class FakeStack:
    """Processes by name; `crashes` says how often each dies again right after a restart."""

    procs: dict[str, FakeProcess]
    crashes: dict[str, int] = field(default_factory=dict)
    restarted: list[str] = field(default_factory=list)

    def processes(self) -> dict[str, FakeProcess]:
        return self.procs

    def restart_service(self, name: str) -> FakeProcess:
        self.restarted.append(name)
        left = self.crashes.get(name, 0)
        self.crashes[name] = left - 1
        self.procs[name].up = left <= 0
        if len(self.restarted) >= 20:
            raise KeyboardInterrupt  # the test's way out of the endless loop
        return self.procs[name]


class QuietTail:
    def pump(self) -> None:
        pass


def run(stack: FakeStack, max_restarts: int = 5) -> None:
    supervise(cast(LocalStack, stack), cast(LogTail, QuietTail()), max_restarts=max_restarts)


def test_infrastructure_is_restarted_first_then_the_services() -> None:
    names = ["gateway", "worker-1", "redis", "temporal"]
    stack = FakeStack({name: FakeProcess(up=False) for name in names}, crashes={"gateway": 99})
    with pytest.raises(StartupError, match="gateway keeps exiting"):
        run(stack, max_restarts=2)
    assert stack.restarted[:2] == ["redis", "temporal"]
    assert stack.restarted[2:4] == ["gateway", "worker-1"]


@pytest.mark.parametrize("name", ["redis", "temporal"])
def test_a_crash_looping_server_stops_the_stack(name: str) -> None:
    stack = FakeStack({name: FakeProcess(up=False), "gateway": FakeProcess()}, crashes={name: 99})
    with pytest.raises(StartupError, match=f"{name} keeps exiting"):
        run(stack, max_restarts=3)
    assert stack.restarted == [name] * 3
