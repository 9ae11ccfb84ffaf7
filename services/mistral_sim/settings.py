"""The simulator's configuration, from `SIM_*` environment variables."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class SimSettings(ServiceSettings):
    # Defaults close to a real hosted model; tests set both to 0 for instant answers.
    sim_first_token_ms: float = Field(default=300.0, ge=0)
    sim_tokens_per_s: float = Field(default=60.0, ge=0)
    # When set, every /v1 request must carry `Authorization: Bearer <this key>`.
    sim_api_key: str | None = None
    sim_host: str = "127.0.0.1"
    sim_port: int = Field(default=8800, ge=0, le=65535)

    @property
    def first_token_s(self) -> float:
        return self.sim_first_token_ms / 1000.0

    @property
    def token_interval_s(self) -> float:
        """Seconds between streamed tokens; 0 streams as fast as possible."""
        return 1.0 / self.sim_tokens_per_s if self.sim_tokens_per_s > 0 else 0.0
