"""`make dev` starts the stack, writes pid files, and Ctrl-C or SIGTERM leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.stack.processes import REPO_ROOT, free_port, poll


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


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_dev_stack_starts_and_stops_without_leftovers(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    env = {
        **os.environ,
        **{
            f"{name}_PORT": str(free_port())
            for name in ("GATEWAY", "MCP", "SIM", "TEMPORAL", "TEMPORAL_UI", "REDIS")
        },
    }
    env.pop("MISTRAL_API_KEY", None)
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
