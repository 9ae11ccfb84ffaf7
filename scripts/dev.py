"""`make dev`: the whole stack as supervised local processes; Ctrl-C or SIGTERM stops it all.

Prints each URL and the dev API key, interleaves every process's log on the console, restarts any
process that dies, Temporal and Redis included, on the same port with the same data (a
crash-looping one stops the stack), and leaves no process behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from scripts.stack.local import DEV_API_KEY, DEV_TENANT, LocalStack, Ports
from scripts.stack.processes import REPO_ROOT, StartupError

COLORS = ("36", "33", "35", "32", "34", "31", "96", "93")


class Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


class LogTail:
    """Follows every process's log file and echoes new lines with a coloured name prefix."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.offsets: dict[Path, int] = {}

    def pump(self) -> None:
        for index, path in enumerate(sorted(self.log_dir.glob("*.log"))):
            offset = self.offsets.get(path, path.stat().st_size if path not in self.offsets else 0)
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            if not chunk:
                self.offsets[path] = offset
                continue
            complete, _, _ = chunk.rpartition(b"\n")
            self.offsets[path] = offset + len(complete) + (1 if complete else 0)
            color = COLORS[index % len(COLORS)]
            for line in complete.decode(errors="replace").splitlines():
                print(f"\033[{color}m{path.stem:>12} |\033[0m {line}", flush=True)


def print_banner(stack: LocalStack) -> None:
    assert stack.temporal is not None and stack.redis is not None
    rows = [
        ("Gateway", stack.gateway_url if "gateway" in stack.services else "(not built yet)"),
        ("API key", f"{DEV_API_KEY} (tenant {DEV_TENANT}; a dev key, do not use in production)"),
    ]
    if "gateway" in stack.services:
        # The key rides in the fragment, which the browser never sends; the page keeps it.
        rows.append(("Chat page", f"{stack.gateway_url}/#key={DEV_API_KEY}"))
    rows += [
        ("Temporal", stack.temporal.address),
        ("Temporal UI", stack.temporal.ui_url or "(headless)"),
        ("Redis", stack.redis.url),
    ]
    if "mcp" in stack.services:
        rows.append(("MCP server", stack.mcp_url))
    if "mistral-sim" in stack.services:
        rows.append(("Mistral sim", stack.sim_url + " (no MISTRAL_API_KEY set)"))
    elif not stack.uses_simulator:
        rows.append(("Mistral", "the real API (MISTRAL_API_KEY is set)"))
    workers = [name for name in stack.services if name.startswith("worker-")]
    rows.append(("Workers", ", ".join(workers) or "(not built yet)"))
    rows.append(("Data", f"{stack.data_dir} (pids in {stack.run_dir})"))
    width = max(len(name) for name, _ in rows)
    print("\nDurable Agents is running:\n" + "\n".join(f"  {n:<{width}}  {v}" for n, v in rows))
    print("Press Ctrl-C to stop.\n", flush=True)


# Restarted first when several died at once: the services need them to start (and be healthy).
INFRASTRUCTURE = ("temporal", "redis")


def supervise(stack: LocalStack, tail: LogTail, max_restarts: int = 5) -> None:
    """Restart what dies, as a Compose `restart:` policy would; stop at `max_restarts` in 60 s."""
    restarts: dict[str, list[float]] = {}
    while True:
        tail.pump()
        dead = [(name, p) for name, p in stack.processes().items() if not p.alive()]
        dead.sort(key=lambda item: item[0] not in INFRASTRUCTURE)
        for name, process in dead:
            code = process.proc.returncode if process.proc else None
            recent = [t for t in restarts.get(name, []) if time.monotonic() - t < 60]
            if len(recent) >= max_restarts:
                raise StartupError(f"{name} keeps exiting (code {code}); stopping the stack")
            restarts[name] = [*recent, time.monotonic()]
            print(f"{name} exited (code {code}); restarting", flush=True)
            stack.restart_service(name)
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".data")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    stack = LocalStack(args.data_dir, Ports.from_env(), workers=args.workers)
    tail = LogTail(stack.log_dir)
    status = 0
    try:
        stack.start(on_started=lambda name: print(f"started {name}", flush=True))
        print_banner(stack)
        supervise(stack, tail)
    except Stop as stop:
        print(f"\n{stop}: stopping the stack", flush=True)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan children
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        tail.pump()
        print("stopped", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
