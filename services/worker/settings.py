"""What the worker reads from its environment."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from services.common.settings import RedisSettings
from services.mcp_server.settings import McpAuthSettings

MISTRAL_API_URL = "https://api.mistral.ai"
SIMULATOR_URL = "http://127.0.0.1:8800"
# The repository's teams/ (in the image: /app/teams), wherever the worker is started from.
DEFAULT_TEAMS_DIR = Path(__file__).resolve().parents[2] / "teams"


class WorkerSettings(RedisSettings, McpAuthSettings):
    """Redis (`REDIS_URL`, the event log's length and lifetime) as every service reads it; the MCP
    server's shared secret (`MCP_AUTH_TOKEN` or `MCP_AUTH_TOKEN_FILE`) as the server reads it.
    Temporal is `TemporalSettings` and Temporal's own variables, read once for every service
    (services/common/temporal_client.py)."""

    mistral_api_key: SecretStr | None = None
    # Unset: the real API when a key is set, else the simulator at `MISTRAL_SIMULATOR_URL`.
    mistral_server_url: str | None = None
    mistral_simulator_url: str = SIMULATOR_URL
    mcp_server_url: str = "http://127.0.0.1:9000/mcp"
    # One YAML file per agent team (services/worker/team_files.py).
    agent_teams_dir: Path = DEFAULT_TEAMS_DIR
    # The model of every agent whose team file names none (the cookbook's).
    agent_model: str = "mistral-medium-2505"
    # MCP tools that wait for a person's approval before they run (comma list; "" = none).
    approval_tools: str = ""
    approval_timeout_s: float = Field(default=300, gt=0)
    tool_timeout_s: float = Field(default=30, gt=0)
    # Seconds of silence from a model stream before the step is treated as dropped.
    model_read_timeout_s: float = Field(default=60, gt=0)
    # How long a worker that stops may finish what it runs before Temporal gives it to another.
    graceful_shutdown_s: float = Field(default=20, ge=0)
    max_concurrent_activities: int = Field(default=200, gt=0)
    session_turns_per_run: int = Field(default=100, gt=0)
    # Run the session workflow in the SDK's sandbox (tests always do; see worker.session_runner).
    workflow_sandbox: bool = False
    # Names this worker's code to Temporal; unset: a hash of the service code (worker.py).
    worker_build_id: str | None = None
    # host:port of this process's Prometheus metrics (services/worker/metrics.py); "" = none.
    worker_metrics_address: str = ""

    @field_validator("mistral_api_key", "mistral_server_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `MISTRAL_API_KEY=` in an .env file means "no key", not "an empty key".
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def mistral_url(self) -> str:
        if self.mistral_server_url:
            return self.mistral_server_url
        return MISTRAL_API_URL if self.mistral_api_key else self.mistral_simulator_url

    @property
    def approval_tool_names(self) -> list[str]:
        return sorted({name.strip() for name in self.approval_tools.split(",") if name.strip()})

    @property
    def mistral_key(self) -> str:
        # The simulator accepts any key; the SDK wants one to send.
        return self.mistral_api_key.get_secret_value() if self.mistral_api_key else "sim-key"

    @property
    def uses_simulator(self) -> bool:
        return self.mistral_api_key is None

    def team_variable(self, name: str) -> str | None:
        """What `${NAME}` in a team file reads: the environment, except for the settings this
        worker reads itself, which come as it resolved them (defaults, a token read from
        MCP_AUTH_TOKEN_FILE, values handed to it in code)."""
        own = {
            "MCP_SERVER_URL": lambda: self.mcp_server_url,
            "AGENT_MODEL": lambda: self.agent_model,
            "MCP_AUTH_TOKEN": self._token_text,
        }.get(name)
        return own() if own is not None else os.environ.get(name)

    def _token_text(self) -> str | None:
        token = self.mcp_auth_secret()
        return token.get_secret_value() if token is not None else None
