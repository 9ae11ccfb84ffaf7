"""The chaos suite's local stack and the faults it can suffer: kill, restart, pause, inject.

One `LocalStack` (what `make dev` runs) for the whole matrix, tuned so each phase of a turn is
long enough to land a fault in: the simulator waits before its first token and streams at a
human pace, food_log waits for approval, and every MCP tool call holds its answer after its write.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from scripts.stack.local import DEV_TENANT, LocalStack, Ports, ServiceSpec
from scripts.stack.processes import http_ok, poll
from scripts.stack.servers import redis_ping
from tests.chaos.matrix import DATA_DIR_ENV

CHAOS_ENV = {
    # "before the first token" is this long; the reply then streams for about a second.
    "SIM_FIRST_TOKEN_MS": "300",
    "SIM_TOKENS_PER_S": "80",
    # Every food_log waits for POST /approvals: the "waiting for approval" phase.
    "APPROVAL_TOOLS": "food_log",
    # Every tool answers this long after its write is committed: the "during a tool call" phase.
    "MCP_TOOL_DELAY_MS": "800",
}
# Two gateway processes (a stream and its resume may still land on different ones), so a
# restarted gateway boots in a couple of seconds on a 2-core CI machine.
GATEWAY_PROCESSES = 2

WORKERS = ("worker-1", "worker-2")


class ChaosLocalStack(LocalStack):
    def plan(self) -> list[ServiceSpec]:
        specs = super().plan()
        for spec in specs:
            if spec.name == "gateway":
                spec.args += ["--workers", str(GATEWAY_PROCESSES)]
        return specs


@dataclass
class ChaosStack:
    local: LocalStack

    @classmethod
    def start(cls, data_dir: Path) -> ChaosStack:
        local = ChaosLocalStack(
            data_dir, Ports.free(), workers=2, temporal_ui=False, extra_env=dict(CHAOS_ENV)
        )
        local.start()
        return cls(local)

    def stop(self) -> None:
        self.heal_paused()
        self.local.stop()

    @property
    def db_path(self) -> Path:
        return self.local.data_dir / "mcp" / "nutrisense.db"

    @property
    def log_dir(self) -> Path:
        return self.local.log_dir

    # -- processes -------------------------------------------------------------------------

    def kill(self, *names: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal each process group, then wait until each leader is gone (bounded)."""
        processes = self.local.processes()
        for name in names:
            processes[name].signal(sig)
        gone = [processes[name] for name in names]
        if not poll(lambda: not any(p.alive() for p in gone), 10):
            raise RuntimeError(f"{', '.join(names)} did not die on {sig.name}")

    def restart(self, name: str) -> None:
        """Bring `name` back on its port with its data (LocalStack.restart_service when it
        knows the name; Redis and Temporal by hand until it does)."""
        try:
            self.local.restart_service(name)
            return
        except KeyError:
            if name not in ("redis", "temporal"):
                raise
        process = self.local.processes()[name]
        if name == "redis":
            assert self.local.redis is not None
            port = self.local.redis.port
            process.restart().wait_ready(lambda: redis_ping(port), timeout=15)
        else:
            temporal = self.local.temporal
            assert temporal is not None
            url = f"http://127.0.0.1:{temporal.http_port}/api/v1/namespaces/{temporal.namespace}"
            process.restart().wait_ready(lambda: http_ok(url), timeout=60)
        (self.local.run_dir / f"{name}.pid").write_text(f"{process.pid}\n")

    async def akill_and_restart(self, *names: str, down_s: float = 0.0) -> None:
        """SIGKILL `names`, keep them down `down_s` (the fault's length), start them again."""
        await asyncio.to_thread(self.kill, *names)
        if down_s > 0:
            await asyncio.sleep(down_s)
        await asyncio.gather(*(asyncio.to_thread(self.restart, name) for name in names))

    def heal_paused(self) -> None:
        if "redis" in self.local.processes():
            self.local.processes()["redis"].signal(signal.SIGCONT)

    def heal(self) -> list[str]:
        """After a cell: nothing paused, every process up, no simulator fault left queued."""
        healed: list[str] = []
        self.heal_paused()
        for name, process in self.local.processes().items():
            if not process.alive():
                self.restart(name)
                healed.append(name)
        if "mistral-sim" in self.local.services:
            with httpx2.Client(base_url=self.local.sim_url, timeout=5) as sim:
                sim.delete("/_sim/faults")
        return healed

    # -- the simulator ---------------------------------------------------------------------

    async def add_sim_fault(self, spec: dict[str, Any]) -> None:
        async with httpx2.AsyncClient(base_url=self.local.sim_url, timeout=5) as sim:
            response = await sim.post("/_sim/faults", json=spec)
            response.raise_for_status()

    async def conversation_ids(self) -> set[str]:
        async with httpx2.AsyncClient(base_url=self.local.sim_url, timeout=10) as sim:
            ids: set[str] = set()
            for page in range(100):
                response = await sim.get(
                    "/v1/conversations", params={"page": page, "page_size": 100}
                )
                response.raise_for_status()
                listed = response.json()
                ids.update(str(conv["id"]) for conv in listed)
                if len(listed) < 100:
                    break
            return ids

    async def user_inputs(self, conversation_ids: set[str]) -> dict[str, Counter[str]]:
        """Per conversation still known, how many times each user input is in its history."""
        found: dict[str, Counter[str]] = {}
        async with httpx2.AsyncClient(base_url=self.local.sim_url, timeout=10) as sim:
            for cid in sorted(conversation_ids):
                response = await sim.get(f"/v1/conversations/{cid}/history")
                if response.status_code == 404:
                    continue
                response.raise_for_status()
                inputs = Counter(
                    _text(entry.get("content"))
                    for entry in response.json()["entries"]
                    if entry.get("type") == "message.input" and entry.get("role") == "user"
                )
                found[cid] = inputs
        return found

    # -- the MCP store ---------------------------------------------------------------------

    def food_counts(self, user_id: str) -> Counter[str]:
        """How many diary rows each food has for this user (the tool's side effects)."""
        if not self.db_path.exists():
            return Counter()
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as db:
            rows = db.execute(
                "SELECT food, COUNT(*) FROM food_entries"
                " WHERE tenant_id = ? AND user_id = ? GROUP BY food",
                (DEV_TENANT, user_id),
            ).fetchall()
        return Counter({str(food): int(n) for food, n in rows})


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return str(content)


def data_dir(factory: pytest.TempPathFactory, name: str) -> Path:
    """`$CHAOS_DATA_DIR/<name>` when set (kept after the run: every process's log is in its
    logs/), else a pytest temp dir."""
    if root := os.environ.get(DATA_DIR_ENV):
        path = Path(root) / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path
    return factory.mktemp(name)
