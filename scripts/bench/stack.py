"""The stack the benchmark runs against: the local stack on free ports, the simulator at fixed
timings, limits raised so the benchmark measures latency rather than the per-key limits."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from scripts.stack.local import DEV_API_KEY, LocalStack, Ports

# Fixed simulator pacing for every section: a first token after 100 ms, then 100 tokens/s.
SIM_FIRST_TOKEN_MS = 100
SIM_TOKENS_PER_S = 100


@dataclass(frozen=True)
class Timing:
    first_token_ms: float = SIM_FIRST_TOKEN_MS
    tokens_per_s: float = SIM_TOKENS_PER_S

    @property
    def token_interval_ms(self) -> float:
        return 1000.0 / self.tokens_per_s


def bench_env(timing: Timing) -> dict[str, str]:
    return {
        "SIM_FIRST_TOKEN_MS": str(timing.first_token_ms),
        "SIM_TOKENS_PER_S": str(timing.tokens_per_s),
        # One API key drives every viewer and session: lift the per-key limits out of the way.
        "GATEWAY_RATE_LIMIT": "1000000",
        "GATEWAY_MAX_STREAMS": "10000",
        "GATEWAY_ACCESS_LOG": "0",
    }


@contextlib.contextmanager
def bench_stack(
    data_dir: Path | None = None, *, workers: int = 2, timing: Timing = Timing()
) -> Iterator[LocalStack]:
    """A started LocalStack in `data_dir` (a fresh temp dir when None), stopped on exit."""
    owned = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="bench-stack-")) if data_dir is None else data_dir
    if not owned and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    # Redis fsyncs its append-only file once a second, as in compose.yaml: the figures are the
    # deployed platform's. `make dev` fsyncs every write (scripts/stack/local.py), which adds
    # the disk's sync to each event's delivery.
    stack = LocalStack(
        root,
        Ports.free(),
        workers=workers,
        temporal_ui=False,
        extra_env=bench_env(timing),
        redis_appendfsync="everysec",
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        if owned:
            shutil.rmtree(root, ignore_errors=True)


API_KEY = DEV_API_KEY


def pids(stack: LocalStack, prefix: str) -> list[int]:
    """Pids of the stack's processes whose name starts with `prefix` (e.g. "worker-")."""
    return [proc.pid for name, proc in stack.processes().items() if name.startswith(prefix)]


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def rss_bytes(root_pids: list[int]) -> int:
    """Resident memory of these processes and all their children."""
    total = 0
    for pid in root_pids:
        for proc in tree(pid):
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
    return total


def cpu_seconds(root_pids: list[int]) -> float:
    """User + system CPU time of these processes and their children so far."""
    total = 0.0
    for pid in root_pids:
        for proc in tree(pid):
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
    return total
