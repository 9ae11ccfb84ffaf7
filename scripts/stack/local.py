"""The whole platform as local processes: what `make dev` runs and the e2e suite drives.

Infrastructure first (Temporal dev server, Redis), then each service whose code exists: the
Mistral simulator (unless `MISTRAL_API_KEY` is set), the MCP server, the workers and the gateway.
Each process's pid goes to `<data>/run/<name>.pid` so tests and people can find and kill one;
`restart_service` brings any of them back as it was (Temporal with its SQLite file, Redis with its
append-only file), as a Compose `restart:` policy would.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scripts.stack.processes import (
    REPO_ROOT,
    ManagedProcess,
    StartupError,
    free_port,
    http_ok,
    port_is_free,
    python_module,
)
from scripts.stack.servers import (
    RedisServer,
    TemporalServer,
    restart_redis,
    restart_temporal,
    start_redis,
    start_temporal,
)

# Defined once, by the gateway; re-exported here for the stack's users (scripts, tests).
from services.gateway.settings import DEV_API_KEY as DEV_API_KEY
from services.gateway.settings import DEV_TENANT as DEV_TENANT

DEV_API_KEYS = f"{DEV_API_KEY}:{DEV_TENANT}"


@dataclass
class Ports:
    gateway: int = 8000
    mcp: int = 9000
    sim: int = 8800
    temporal: int = 7233
    temporal_ui: int = 8233
    redis: int = 6379

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Ports:
        """Ports from `*_PORT` variables; a default port that is taken is swapped for a free one."""
        ports = cls()
        for name, default in vars(cls()).items():
            variable = f"{name.upper()}_PORT"
            if variable in env:
                setattr(ports, name, int(env[variable]))
            elif not port_is_free(default):
                setattr(ports, name, free_port())
        return ports

    @classmethod
    def free(cls) -> Ports:
        return cls(*(free_port() for _ in range(6)))


@dataclass
class ServiceSpec:
    name: str
    module: str
    args: list[str]
    health_url: str | None = None
    # This service's own variables, over the stack's (a worker's metrics address).
    env: dict[str, str] = field(default_factory=dict)

    @property
    def metrics_url(self) -> str | None:
        """Where a worker serves its Prometheus metrics (WORKER_METRICS_ADDRESS)."""
        address = self.env.get("WORKER_METRICS_ADDRESS")
        return f"http://{address}/metrics" if address else None


@dataclass
class LocalStack:
    data_dir: Path
    ports: Ports = field(default_factory=Ports)
    workers: int = 2
    temporal_ui: bool = True
    # The gateway's `key:tenant,...`: the dev key unless the caller passes the user's keys.
    api_keys: str = DEV_API_KEYS
    extra_env: dict[str, str] = field(default_factory=dict)
    # "always": a killed Redis loses no acknowledged event (the chaos suite counts them); it
    # costs ~0.3 ms per write on this kind of machine. Compose keeps Redis's "everysec".
    redis_appendfsync: str = "always"
    temporal: TemporalServer | None = None
    redis: RedisServer | None = None
    services: dict[str, ManagedProcess] = field(default_factory=dict)
    specs: dict[str, ServiceSpec] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def uses_simulator(self) -> bool:
        return not (self.extra_env.get("MISTRAL_API_KEY") or os.environ.get("MISTRAL_API_KEY"))

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def mcp_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.mcp}/mcp"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sim}"

    def env(self) -> dict[str, str]:
        """What every service process is told about the others."""
        assert self.temporal is not None and self.redis is not None
        env = {
            "TEMPORAL_ADDRESS": self.temporal.address,
            "TEMPORAL_NAMESPACE": self.temporal.namespace,
            "REDIS_URL": self.redis.url,
            "MCP_SERVER_URL": self.mcp_url,
            "GATEWAY_API_KEYS": self.api_keys,
            "DATABASE_URL": f"sqlite:///{self.data_dir / 'mcp' / 'nutrisense.db'}",
            "PYTHONUNBUFFERED": "1",
            # Services keep their compiled bytecode, as the image does (docker/Dockerfile), even
            # where the shell says not to write it: without it every start, and every sandboxed
            # workflow instance (one per new session), compiles its modules from source again.
            "PYTHONDONTWRITEBYTECODE": "",
            "PYTHONPYCACHEPREFIX": str(REPO_ROOT / ".data" / "pycache"),
        }
        if self.uses_simulator:
            env["MISTRAL_SERVER_URL"] = self.sim_url
        # One random MCP token per stack, kept in extra_env so restarts reuse it (or pass your own).
        self.extra_env.setdefault("MCP_AUTH_TOKEN", secrets.token_urlsafe(32))
        env.update(self.extra_env)
        return env

    def plan(self) -> list[ServiceSpec]:
        """The service processes to run, skipping services whose code does not exist yet."""
        host = ["--host", "127.0.0.1", "--port"]
        wanted = []
        if self.uses_simulator:
            wanted.append(
                ServiceSpec(
                    "mistral-sim",
                    "services.mistral_sim",
                    [*host, str(self.ports.sim)],
                    f"{self.sim_url}/healthz",
                )
            )
        wanted.append(
            ServiceSpec(
                "mcp",
                "services.mcp_server",
                [*host, str(self.ports.mcp)],
                f"http://127.0.0.1:{self.ports.mcp}/healthz",
            )
        )
        wanted += [
            ServiceSpec(
                f"worker-{n}",
                "services.worker",
                [],
                env={"WORKER_METRICS_ADDRESS": f"127.0.0.1:{free_port()}"},
            )
            for n in range(1, self.workers + 1)
        ]
        wanted.append(
            ServiceSpec(
                "gateway",
                "services.gateway",
                [*host, str(self.ports.gateway)],
                f"{self.gateway_url}/healthz",
            )
        )
        return [spec for spec in wanted if module_exists(spec.module)]

    def start(self, on_started: Callable[[str], None] = lambda _: None) -> LocalStack:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.temporal = start_temporal(
                self.log_dir,
                port=self.ports.temporal,
                ui_port=self.ports.temporal_ui if self.temporal_ui else None,
                db_file=self.data_dir / "temporal" / "temporal.db",
            )
            self._write_pid("temporal", self.temporal.process.pid)
            on_started("temporal")
            self.redis = start_redis(
                self.data_dir / "redis",
                port=self.ports.redis,
                persist=True,
                appendfsync=self.redis_appendfsync,
            )
            self._write_pid("redis", self.redis.process.pid)
            on_started("redis")
            for spec in self.plan():
                self.start_service(spec)
                on_started(spec.name)
        except BaseException:
            self.stop()
            raise
        return self

    def start_service(self, spec: ServiceSpec) -> ManagedProcess:
        self.specs[spec.name] = spec
        process = ManagedProcess(
            spec.name,
            python_module(spec.module, *spec.args),
            log_dir=self.log_dir,
            env={**self.env(), **spec.env},
        ).start()
        self.services[spec.name] = process
        self._write_pid(spec.name, process.pid)
        if spec.health_url is not None:
            url = spec.health_url
            process.wait_ready(lambda: http_ok(url), timeout=60)
        elif not process.alive():
            raise StartupError(f"{spec.name} exited at start:\n{process.log_tail()}")
        return process

    def restart_service(self, name: str) -> ManagedProcess:
        """Stop `name` (when it still runs) and start it again on the same port with the same data.

        Any name of `processes()`: a service gets a new process, "temporal" and "redis" keep
        their ManagedProcess object (a new pid in it) and their data. Rewrites the pid file.
        """
        if name in self.specs:
            self.services[name].stop()
            return self.start_service(self.specs[name])
        if name == "temporal" and self.temporal is not None:
            process = restart_temporal(self.temporal).process
        elif name == "redis" and self.redis is not None:
            process = restart_redis(self.redis).process
        else:
            raise KeyError(f"no process {name!r} in this stack")
        self._write_pid(name, process.pid)
        return process

    def stop(self) -> None:
        # Services before the servers they talk to, so each can shut down cleanly.
        for name in reversed(list(self.services)):
            self.services[name].stop(timeout=30)
            self._remove_pid(name)
        for name, server in (("redis", self.redis), ("temporal", self.temporal)):
            if server is not None:
                server.process.stop()
                self._remove_pid(name)

    def processes(self) -> dict[str, ManagedProcess]:
        found = dict(self.services)
        if self.redis is not None:
            found["redis"] = self.redis.process
        if self.temporal is not None:
            found["temporal"] = self.temporal.process
        return found

    def _write_pid(self, name: str, pid: int) -> None:
        (self.run_dir / f"{name}.pid").write_text(f"{pid}\n")

    def _remove_pid(self, name: str) -> None:
        (self.run_dir / f"{name}.pid").unlink(missing_ok=True)


def module_exists(module: str) -> bool:
    return (REPO_ROOT / Path(*module.split(".")) / "__main__.py").exists()
