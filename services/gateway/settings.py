"""What the gateway reads from the environment (`GATEWAY_*`; Temporal and Redis are shared)."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from services.common.settings import ServiceSettings

# The well-known key of `make dev`, Compose's default and the docs (a warning when it is set).
DEV_API_KEY = "dev-key"
DEV_TENANT = "dev"


class GatewaySettings(ServiceSettings):
    # `key:tenant,key2:tenant2`. Required: a gateway with no keys would lock everyone out.
    gateway_api_keys: SecretStr
    # Requests per minute per API key, and concurrent SSE streams per API key.
    gateway_rate_limit: int = Field(default=600, ge=1)
    gateway_max_streams: int = Field(default=200, ge=1)
    gateway_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Seconds between SSE heartbeat comments (proxies drop idle connections).
    gateway_sse_ping_s: float = Field(default=15.0, gt=0)
    # Events a slow SSE client may fall behind before it is cut off (it resumes by id).
    gateway_client_queue: int = Field(default=1000, ge=10)
    # How long a Temporal call may take before the gateway answers 503.
    gateway_temporal_timeout_s: float = Field(default=20.0, gt=0)
    # Turn submits in flight to Temporal, per process (admission.py): the limit grows while
    # Temporal accepts turns within the target and shrinks when it does not, between the two
    # bounds; a turn that finds no free slot within the wait is a 429 with Retry-After.
    gateway_submit_target_s: float = Field(default=2.0, gt=0)
    gateway_submit_min_in_flight: int = Field(default=4, ge=1)
    gateway_submit_max_in_flight: int = Field(default=64, ge=1)
    gateway_submit_wait_s: float = Field(default=1.0, ge=0)
    # Agent teams a session may start with (comma list); empty: every team the workers serve.
    gateway_agents: str = ""
    # GET /metrics (Prometheus text, no API key): `on` with the API, `off`; with a port, served
    # from the gunicorn master on that port instead (services/gateway/metrics.py).
    gateway_metrics: bool = True
    gateway_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @property
    def metrics_route(self) -> bool:
        """Whether the API's own port answers GET /metrics."""
        return self.gateway_metrics and self.gateway_metrics_port is None

    @field_validator("gateway_api_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr) -> SecretStr:
        parse_api_keys(value.get_secret_value())
        return value

    @field_validator("gateway_submit_max_in_flight")
    @classmethod
    def _bounds_order(cls, value: int, info: ValidationInfo) -> int:
        floor = info.data.get("gateway_submit_min_in_flight")
        if floor is not None and value < floor:
            raise ValueError(f"below GATEWAY_SUBMIT_MIN_IN_FLIGHT ({floor})")
        return value

    @property
    def api_keys(self) -> dict[str, str]:
        """API key -> tenant id."""
        return parse_api_keys(self.gateway_api_keys.get_secret_value())

    @property
    def agents(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.gateway_agents.split(",") if a.strip())


def parse_api_keys(raw: str) -> dict[str, str]:
    """`key:tenant,...` as a mapping; errors never echo a key."""
    keys: dict[str, str] = {}
    for position, item in enumerate((part.strip() for part in raw.split(",")), start=1):
        if not item:
            continue
        key, sep, tenant = item.rpartition(":")
        key, tenant = key.strip(), tenant.strip()
        if not sep or not key or not tenant:
            raise ValueError(f"entry {position} is not `key:tenant`")
        if not tenant.replace("-", "").replace("_", "").isalnum() or len(tenant) > 64:
            raise ValueError(f"entry {position}: a tenant is 1-64 letters, digits, - or _")
        if key in keys:
            raise ValueError(f"entry {position} repeats a key")
        keys[key] = tenant
    if not keys:
        raise ValueError("no API keys given (`key:tenant,...`)")
    return keys
