"""Configuration from environment variables (pydantic-settings).

Names follow docs/architecture.md, and Temporal's own names where they exist (`TEMPORAL_ADDRESS`,
`TEMPORAL_NAMESPACE`). Each service declares the settings it reads as a subclass of
`ServiceSettings` and loads them with `load_settings`, which turns a validation failure into one
line that names the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(SystemExit):
    """A setting is missing or invalid; raised at start with one clear line naming it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ServiceSettings(BaseSettings):
    """Base for every service's settings: plain env names, `.env` not read implicitly."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)


class TemporalSettings(ServiceSettings):
    """Where the Temporal frontend is; `TEMPORAL_*` as Temporal's own env-config names them."""

    model_config = SettingsConfigDict(env_prefix="TEMPORAL_")

    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "durable-agents"


class RedisSettings(ServiceSettings):
    """Where Redis is (services/common/redis_client.py): a URL (`rediss://` with TLS options in
    its query), a password kept in a file, the Sentinels that know the master, or a cluster."""

    redis_url: str = "redis://localhost:6379/0"
    # A file holding the password (a mounted secret); overrides a password in the URL.
    redis_password_file: Path | None = None
    # `host:port,host:port`: ask these Sentinels for the master named `redis_sentinel_master`
    # (the URL then gives only the database, the username and TLS options).
    redis_sentinels: str = ""
    redis_sentinel_master: str = "mymaster"
    # A Redis Cluster: the URL names any node (database 0); the others are found from it.
    redis_cluster: bool = False
    # The replay log keeps at most this many events per session ...
    event_log_maxlen: int = Field(default=10_000, ge=100)
    # ... and lives this long after the session's last event.
    event_log_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)


class TelemetrySettings(ServiceSettings):
    logfire_token: SecretStr | None = None
    logfire_environment: str = "local"
    # `auto`: trace when the spans have somewhere to go (a Logfire token, an OTLP endpoint or
    # the console); `on` traces even with nowhere to send them, `off` never does.
    tracing: Literal["auto", "on", "off"] = "auto"


S = TypeVar("S", bound=BaseSettings)


def env_name(settings_cls: type[BaseSettings], field: str) -> str:
    prefix = str(settings_cls.model_config.get("env_prefix") or "")
    return f"{prefix}{field}".upper()


def load_settings(settings_cls: type[S]) -> S:
    """Build `settings_cls` from the environment, or raise ConfigError naming the variable."""
    try:
        return settings_cls()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "?"
            name = env_name(settings_cls, field)
            if error["type"] == "missing":
                problems.append(f"{name} is required but not set")
            else:
                problems.append(f"{name} is invalid: {error['msg']}")
        raise ConfigError("configuration error: " + "; ".join(problems)) from None
