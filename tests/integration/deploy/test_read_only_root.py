"""The services run the way deploy/k8s runs them: with the whole filesystem read-only except the
emptyDirs the manifests mount (a temporary directory, and the MCP server's SQLite directory in
the local overlay).

Each service starts in a mount namespace of its own where every mount is remounted read-only,
then a NutriSense tool turn (MCP writes its diary) and a world-clock turn (the worker runs the
stdio MCP server) go through them, and the worker's probe answers. Needs root (mount
namespaces): skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest

from scripts.sse import aread_events
from scripts.stack.processes import (
    REPO_ROOT,
    ManagedProcess,
    apoll,
    free_port,
    http_ok,
    python_module,
)
from scripts.stack.servers import RedisServer, TemporalServer

# Remount every mount read-only, prove that the root refuses a write, then mount the pod's
# emptyDirs (tmpfs) and become the service. `$@` is the service's argv.
POD_SH = r"""
set -e
awk '{print $2}' /proc/self/mounts | while read -r m; do
  case "$m" in /proc*|/sys*|/dev*) ;; *) mount -o remount,bind,ro "$m" 2>/dev/null || true ;; esac
done
mount -o remount,bind,ro /
if touch "$POD_PROBE" 2>/dev/null; then
  echo "the root is writable: not a read-only pod" >&2; exit 99
fi
for dir in $POD_EMPTY_DIRS; do mount -t tmpfs -o size=64m,mode=1777 tmpfs "$dir"; done
exec "$@"
"""
TOKEN = "read-only-root-test-token"
TURN_TIMEOUT_S = 90


def _can_make_read_only_pods() -> bool:
    if shutil.which("unshare") is None:
        return False
    check = ["unshare", "-m", "--propagation", "private", "mount", "-o", "remount,bind,ro", "/"]
    return subprocess.run(check, capture_output=True, check=False).returncode == 0


pytestmark = pytest.mark.skipif(
    not _can_make_read_only_pods(), reason="needs root to remount / read-only (unshare -m)"
)


class Pod:
    """Argv and environment for one service in a read-only mount namespace."""

    def __init__(self, base: Path, name: str) -> None:
        self.probe = base / f"{name}.probe"
        self.tmp = base / name / "tmp"
        self.tmp.mkdir(parents=True)
        self.empty_dirs = [self.tmp]

    def data_dir(self, path: Path) -> Path:
        path.mkdir(parents=True)
        self.empty_dirs.append(path)
        return path

    def argv(self, command: list[str]) -> list[str]:
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", POD_SH, "pod", *command]

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "POD_PROBE": str(self.probe),
            "POD_EMPTY_DIRS": " ".join(str(d) for d in self.empty_dirs),
            # As the image: no bytecode written; temporary files where the emptyDir is.
            "PYTHONDONTWRITEBYTECODE": "1",
            "TMPDIR": str(self.tmp),
            **extra,
        }


def _serving(url: str) -> Callable[[], bool]:
    return lambda: http_ok(url)


def _probe_passes(check: list[str], env: dict[str, str]) -> Callable[[], bool]:
    return lambda: subprocess.run(check, env=env, capture_output=True, check=False).returncode == 0


def _commands(
    ports: dict[str, int], shared: dict[str, str], diary: Path
) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each service's argv and environment, as the manifests give them."""
    return {
        "sim": (
            python_module("services.mistral_sim", "--port", str(ports["sim"])),
            {"SIM_FIRST_TOKEN_MS": "0", "SIM_TOKENS_PER_S": "0"},
        ),
        "mcp": (
            python_module("services.mcp_server", "--port", str(ports["mcp"])),
            {**shared, "DATABASE_URL": f"sqlite:///{diary}/nutrisense.db"},
        ),
        "gateway": (
            python_module(
                "services.gateway", "--host", "127.0.0.1", "--port", str(ports["gateway"])
            ),
            {**shared, "GATEWAY_API_KEYS": "ro-key:ro", "WEB_CONCURRENCY": "2"},
        ),
        "worker": (
            python_module("services.worker"),
            {
                **shared,
                "MCP_SERVER_URL": f"http://127.0.0.1:{ports['mcp']}/mcp",
                "MISTRAL_SIMULATOR_URL": f"http://127.0.0.1:{ports['sim']}",
            },
        ),
    }


@pytest.fixture
def read_only_stack(
    tmp_path: Path, temporal_server: TemporalServer, redis_server: RedisServer
) -> Iterator[str]:
    """Simulator, MCP server, gateway and worker, each in a read-only pod; the gateway's URL."""
    token_file = tmp_path / "mcp-auth-token"
    token_file.write_text(TOKEN + "\n")
    ports = {name: free_port() for name in ("sim", "mcp", "gateway")}
    shared = {
        "TEMPORAL_ADDRESS": temporal_server.address,
        "TEMPORAL_TASK_QUEUE": f"read-only-{uuid.uuid4().hex[:8]}",
        "REDIS_URL": redis_server.url,
        "MCP_AUTH_TOKEN_FILE": str(token_file),
        "TRACING": "off",
    }
    pods = {name: Pod(tmp_path, name) for name in ("sim", "mcp", "gateway", "worker")}
    diary = pods["mcp"].data_dir(tmp_path / "mcp" / "data")
    started = {
        name: ManagedProcess(
            f"ro-{name}",
            pods[name].argv(argv),
            log_dir=tmp_path / "logs",
            env=pods[name].env(**env),
        ).start()
        for name, (argv, env) in _commands(ports, shared, diary).items()
    }
    try:
        for name, port in ports.items():
            path = "/readyz" if name == "gateway" else "/healthz"
            started[name].wait_ready(_serving(f"http://127.0.0.1:{port}{path}"), timeout=150)
        # The worker's probe, as its exec probe runs it: in a pod, with the image's PYTHONPATH.
        probe = Pod(tmp_path, "probe")
        check = probe.argv([sys.executable, str(REPO_ROOT / "docker" / "healthcheck_worker.py")])
        env = {**os.environ, **probe.env(**shared), "PYTHONPATH": str(REPO_ROOT)}
        started["worker"].wait_ready(_probe_passes(check, env), timeout=150)
        yield f"http://127.0.0.1:{ports['gateway']}"
    finally:
        for process in reversed(started.values()):
            process.stop()


async def _turn(client: httpx2.AsyncClient, agent: str, text: str) -> list[str]:
    answers: list[httpx2.Response] = []

    async def created() -> bool:
        # A team is offered once the worker has published it and each gateway process has
        # read the catalog again (services/gateway/routes/agents.py): poll, then go on.
        answers.append(await client.post("/v1/sessions", json={"user_id": "ro", "agent": agent}))
        return answers[-1].status_code != 422

    assert await apoll(created, 30), answers[-1].text
    assert answers[-1].status_code == 201, answers[-1].text
    sid = answers[-1].json()["session_id"]
    events: list[str] = []
    async with client.stream(
        "POST",
        f"/v1/sessions/{sid}/messages",
        json={"input": text},
        headers={"Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        async for event in aread_events(response.aiter_lines()):
            events.append(event.event)
            if event.event in {"turn.completed", "turn.failed", "turn.cancelled"}:
                break
    return events


@pytest.mark.timeout(400)
async def test_turns_complete_with_a_read_only_root(read_only_stack: str) -> None:
    headers = {"Authorization": "Bearer ro-key"}
    async with httpx2.AsyncClient(
        base_url=read_only_stack, headers=headers, timeout=TURN_TIMEOUT_S
    ) as client:
        logged = await _turn(
            client, "nutrisense", "I had 2 eggs and a slice of toast for breakfast"
        )
        assert "tool.result" in logged
        assert logged[-1] == "turn.completed", logged
        clock = await _turn(client, "time", "What time is it in Tokyo?")
        assert "tool.result" in clock
        assert clock[-1] == "turn.completed", clock
