"""`make dev`: the whole stack as supervised local processes; Ctrl-C or SIGTERM stops it all.

Prints each URL and the API key to use (the dev key, unless GATEWAY_API_KEYS names yours),
interleaves every process's log on the console, restarts any process that dies, Temporal and
Redis included, on the same port with the same data (a crash-looping one stops the stack), and
leaves no process behind, however many signals arrive while it stops.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from scripts.stack.local import DEV_API_KEY, DEV_API_KEYS, DEV_TENANT, LocalStack, Ports
from scripts.stack.processes import REPO_ROOT, StartupError

COLORS = ("36", "33", "35", "32", "34", "31", "96", "93")


class Stop(Exception):
    pass


class StopSignals:
    """SIGINT and SIGTERM raise `Stop` once; once stopping has begun, further ones are dropped.

    A second signal is the rule, not the exception: SIGTERM to `make dev`'s process group
    reaches this process twice (directly, and forwarded by `uv run`), and people press Ctrl-C
    again. A `Stop` raised inside the shutdown would skip `LocalStack.stop()` and leave the
    servers running and their pid files behind. The handler stays installed (not SIG_IGN) so
    that nothing started meanwhile inherits an ignored signal.
    """

    def __init__(self) -> None:
        self.stopping = False

    def install(self) -> StopSignals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.handle)
        return self

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
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


def api_keys(env: Mapping[str, str]) -> str:
    """The gateway's keys: the user's GATEWAY_API_KEYS when set (not blank), else the dev key."""
    return env.get("GATEWAY_API_KEYS", "").strip() or DEV_API_KEYS


def key_rows(stack: LocalStack) -> list[tuple[str, str]]:
    """Which key to use. The user's own keys are secrets: their tenants are shown, never them."""
    has_gateway = "gateway" in stack.services
    if stack.api_keys == DEV_API_KEYS:
        rows = [
            ("API key", f"{DEV_API_KEY} (tenant {DEV_TENANT}; a dev key, do not use in production)")
        ]
        if has_gateway:
            # The key rides in the fragment, which the browser never sends; the page keeps it.
            rows.append(("Chat page", f"{stack.gateway_url}/#key={DEV_API_KEY}"))
        return rows
    pairs = [pair.strip() for pair in stack.api_keys.split(",") if pair.strip()]
    tenants = sorted({pair.partition(":")[2].strip() or "?" for pair in pairs})
    rows = [("API key", f"one of your GATEWAY_API_KEYS (tenants: {', '.join(tenants)})")]
    if has_gateway:
        rows.append(("Chat page", f"{stack.gateway_url}/ (it asks for your key)"))
    return rows


def print_banner(stack: LocalStack) -> None:
    assert stack.temporal is not None and stack.redis is not None
    rows = [
        ("Gateway", stack.gateway_url if "gateway" in stack.services else "(not built yet)"),
        *key_rows(stack),
    ]
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
    scrape = [stack.specs[name].metrics_url for name in workers]
    if "gateway" in stack.services:
        scrape.insert(0, f"{stack.gateway_url}/metrics")
    if "mcp" in stack.services:
        scrape.append(f"http://127.0.0.1:{stack.ports.mcp}/metrics")
    rows.append(("Metrics", " ".join(url for url in scrape if url) or "(none)"))
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


def run(stack: LocalStack, tail: LogTail, signals: StopSignals) -> int:
    """Start, supervise until a signal or a crash loop, then stop everything: the exit status."""
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
        # First, and a plain attribute store (no call in between where a handler could run):
        # from here on a signal can no longer cut the stop short.
        signals.stopping = True
        stack.stop()
        tail.pump()
        print("stopped", flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".data")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
    args = parser.parse_args(argv)

    signals = StopSignals().install()
    stack = LocalStack(
        args.data_dir,
        Ports.from_env(),
        workers=args.workers,
        api_keys=api_keys(os.environ),
        # Read on a console: text lines (services/common/logs.py); the image logs JSON.
        extra_env={"LOG_FORMAT": os.environ.get("LOG_FORMAT", "text")},
    )
    return run(stack, LogTail(stack.log_dir), signals)


if __name__ == "__main__":
    sys.exit(main())
