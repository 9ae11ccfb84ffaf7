"""What the MCP server reads from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from services.common.settings import ServiceSettings

DEFAULT_DB_PATH = Path(".data/mcp/nutrisense.db")


class McpServerSettings(ServiceSettings):
    """`DATABASE_URL` picks the store (SQLite file or PostgreSQL); `MCP_ALLOWED_HOSTS` the Host
    names the transports accept (DNS-rebinding protection; Compose service names must pass)."""

    database_url: str = f"sqlite:///{DEFAULT_DB_PATH}"
    mcp_allowed_hosts: str = "localhost,127.0.0.1,mcp,[::1]"
    # Answer stateless POSTs with plain JSON (no SSE framing): fastest for the worker's calls.
    mcp_json_response: bool = True
    mcp_log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    # Opt-in: estimate foods the table does not know with Mistral (needs a real key).
    nutrisense_estimate_unknown_foods: bool = False
    nutrisense_estimate_model: str = "mistral-small-latest"
    mistral_api_key: SecretStr | None = None
    # Unset: Mistral's own API. (The offline simulator cannot answer in JSON-schema mode.)
    nutrisense_estimate_server_url: str | None = None
    # Test knob: hold every tool call's answer this long after its work is done (a slow tool,
    # so a fault can land mid-call: tests/chaos). 0 in any real deployment.
    mcp_tool_delay_ms: int = Field(default=0, ge=0)

    @property
    def estimates_enabled(self) -> bool:
        return self.nutrisense_estimate_unknown_foods and self.mistral_api_key is not None

    @property
    def allowed_hosts(self) -> list[str]:
        """Each name with any port ("mcp" -> "mcp:*"), plus the bare name (a Host with no port)."""
        hosts: list[str] = []
        for name in self._host_names():
            port_part = name.rsplit("]", 1)[-1] if name.startswith("[") else name
            hosts.extend([name] if ":" in port_part else [name, f"{name}:*"])
        return hosts

    @property
    def allowed_origins(self) -> list[str]:
        """Browser Origins for the same names (no Origin, as from servers, always passes)."""
        return [f"{scheme}://{host}" for host in self.allowed_hosts for scheme in ("http", "https")]

    @property
    def host_check_enabled(self) -> bool:
        """`MCP_ALLOWED_HOSTS=*` turns the Host/Origin check off (e.g. behind a trusted proxy)."""
        return "*" not in self._host_names()

    def _host_names(self) -> list[str]:
        return [h.strip() for h in self.mcp_allowed_hosts.split(",") if h.strip()]
