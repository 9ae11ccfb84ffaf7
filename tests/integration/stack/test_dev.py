"""`make dev` starts the stack, writes pid files, restarts what dies (Redis and Temporal too, with
their data), and Ctrl-C or SIGTERM leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from temporalio.client import Client, WorkflowExecutionStatus

from scripts.stack.processes import REPO_ROOT, apoll, free_port, poll
from scripts.stack.servers import redis_ping


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose: it holds no port and runs no code.
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" not in status


def dev_env() -> dict[str, str]:
    env = {
        **os.environ,
        **{
            f"{name}_PORT": str(free_port())
            for name in ("GATEWAY", "MCP", "SIM", "TEMPORAL", "TEMPORAL_UI", "REDIS")
        },
    }
    env.pop("MISTRAL_API_KEY", None)
    return env


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_dev_stack_starts_and_stops_without_leftovers(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    env = dev_env()
    log = (tmp_path / "dev.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.dev", "--data-dir", str(tmp_path / "data")],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    output = tmp_path / "dev.out"
    try:
        assert poll(lambda: b"Press Ctrl-C" in output.read_bytes() or proc.poll() is not None, 90)
        assert proc.poll() is None, output.read_text()
        text = output.read_text()
        assert f"127.0.0.1:{env['TEMPORAL_PORT']}" in text
        assert "dev-key" in text
        run_dir = tmp_path / "data" / "run"
        pids = {p.stem: int(p.read_text()) for p in run_dir.glob("*.pid")}
        assert {"temporal", "redis"} <= set(pids)
        assert all(pid_alive(pid) for pid in pids.values())
    finally:
        proc.send_signal(stop_signal)
        code = proc.wait(60)
        log.close()
    assert code == 0, output.read_text()
    assert poll(lambda: not any(pid_alive(pid) for pid in pids.values()), 10), pids
    assert not list(run_dir.glob("*.pid"))


@contextlib.contextmanager
def dev_stack(tmp_path: Path, env: dict[str, str], *args: str) -> Iterator[Path]:
    """`python -m scripts.dev` running (its banner printed); yields its output file.

    On exit: SIGTERM, then the stack must stop cleanly and leave no process behind.
    """
    output = tmp_path / "dev.out"
    data = tmp_path / "data"
    with output.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.dev", "--data-dir", str(data), *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            assert poll(
                lambda: b"Press Ctrl-C" in output.read_bytes() or proc.poll() is not None, 90
            )
            assert proc.poll() is None, output.read_text()
            yield output
            assert proc.poll() is None, output.read_text()
        finally:
            pids = read_pids(data / "run")
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
    assert code == 0, output.read_text()
    assert poll(lambda: not any(pid_alive(pid) for pid in pids.values()), 10), pids


def read_pids(run_dir: Path) -> dict[str, int]:
    pids = {}
    for path in run_dir.glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pids[path.stem] = int(path.read_text())
    return pids


def restarted(run_dir: Path, name: str, old_pid: int) -> bool:
    """`name`'s pid file names a new, live process."""
    pid = read_pids(run_dir).get(name)
    return pid is not None and pid != old_pid and pid_alive(pid)


async def test_dev_restarts_killed_redis_and_temporal_with_their_data(tmp_path: Path) -> None:
    env = dev_env()
    redis_port, temporal = int(env["REDIS_PORT"]), f"127.0.0.1:{env['TEMPORAL_PORT']}"
    run_dir = tmp_path / "data" / "run"
    workflow_id = f"kept-{uuid.uuid4().hex[:8]}"
    with dev_stack(tmp_path, env, "--workers", "1") as output:
        keys = redis.Redis(port=redis_port)
        keys.set("kept", "yes")
        client = await Client.connect(temporal)
        # No worker polls this queue: the workflow stays running, in the SQLite file only.
        await client.start_workflow("NobodyRunsThis", id=workflow_id, task_queue="nobody")

        old = read_pids(run_dir)
        os.kill(old["redis"], signal.SIGKILL)
        assert poll(lambda: restarted(run_dir, "redis", old["redis"]), 20), output.read_text()
        assert poll(lambda: redis_ping(redis_port), 15), output.read_text()
        # Same port, and the append-only file brought the key back.
        assert keys.get("kept") == b"yes"
        keys.close()

        os.kill(old["temporal"], signal.SIGKILL)
        assert poll(lambda: restarted(run_dir, "temporal", old["temporal"]), 20), output.read_text()

        async def still_running() -> bool:
            try:
                again = await Client.connect(temporal)
                description = await again.get_workflow_handle(workflow_id).describe()
            except Exception:
                return False
            return description.status == WorkflowExecutionStatus.RUNNING

        # Same port, and the SQLite file kept the workflow.
        assert await apoll(still_running, 60), output.read_text()
        text = output.read_text()
        assert "redis exited (code -9); restarting" in text
        assert "temporal exited (code -9); restarting" in text
        assert "stopping the stack" not in text


def test_dev_keeps_the_user_s_keys_and_survives_sigterm_twice_to_its_group(
    tmp_path: Path,
) -> None:
    """`make dev` stopped as a terminal or a process manager stops it: SIGTERM to the whole
    process group, where `uv run` forwards it too, so scripts.dev gets it twice (and once more
    here while it stops). Nothing may stay behind: no process and no pid file."""
    env = {**dev_env(), "GATEWAY_API_KEYS": "own-key-0123456789:acme"}
    output = tmp_path / "dev.out"
    run_dir = tmp_path / "data" / "run"
    # Under `uv run`, as `make dev` runs it (uv forwards the signal), where uv is installed.
    args = ["-m", "scripts.dev", "--data-dir", str(tmp_path / "data")]
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    dev = (
        [uv, "run", "--no-sync", "python", *args] if Path(uv).is_file() else [sys.executable, *args]
    )
    with output.open("wb") as log:
        proc = subprocess.Popen(
            dev,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, as `make dev` has in a terminal
        )
        try:
            assert poll(
                lambda: b"Press Ctrl-C" in output.read_bytes() or proc.poll() is not None, 90
            )
            assert proc.poll() is None, output.read_text()
            text = output.read_text()
            assert "tenants: acme" in text
            assert "own-key" not in text
            assert "dev-key" not in text
            gateway = f"http://127.0.0.1:{env['GATEWAY_PORT']}/v1/sessions"
            assert http_status(gateway, "own-key-0123456789") == 200
            assert http_status(gateway, "dev-key") == 401
            pids = read_pids(run_dir)
            assert {"temporal", "redis", "gateway"} <= set(pids)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            os.killpg(proc.pid, signal.SIGTERM)
            stopping = poll(lambda: b"stopping the stack" in output.read_bytes(), 30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            code = proc.wait(90)
    text = output.read_text()
    assert stopping, text
    assert code == 0, text
    assert text.rstrip().endswith("stopped"), text
    assert poll(lambda: not any(pid_alive(pid) for pid in pids.values()), 10), pids
    assert not list(run_dir.glob("*.pid"))


def http_status(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
