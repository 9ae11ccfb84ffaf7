"""What the MCP server reads from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from services.common.settings import ServiceSettings
from services.mcp_server.auth_token import check_token, read_token_file

DEFAULT_DB_PATH = Path(".data/mcp/nutrisense.db")


class McpAuthSettings(ServiceSettings):
    """The shared secret of the MCP server and the worker: `MCP_AUTH_TOKEN`, or the file named
    by `MCP_AUTH_TOKEN_FILE` (a Compose or Kubernetes secret), never both.

    Both services read it through this class, so they agree on names, blanks and validation.
    """

    mcp_auth_token: SecretStr | None = None
    mcp_auth_token_file: Path | None = None

    @field_validator("mcp_auth_token", "mcp_auth_token_file", mode="before")
    @classmethod
    def _blank_token_is_unset(cls, value: object) -> object:
        # `MCP_AUTH_TOKEN=` in an .env file means "no token", not "an empty token". (Named apart
        # from the worker's own `_blank_is_unset`, which would otherwise replace this one.)
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mcp_auth_token")
    @classmethod
    def _usable_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_token(value.get_secret_value())
        return value

    @field_validator("mcp_auth_token_file")
    @classmethod
    def _readable_token_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        if info.data.get("mcp_auth_token") is not None:
            # Two sources could disagree; which one wins would be a guess.
            raise ValueError("set MCP_AUTH_TOKEN or MCP_AUTH_TOKEN_FILE, not both")
        read_token_file(value)  # fail at start, naming the file, not at the first call
        return value

    def mcp_auth_secret(self) -> SecretStr | None:
        """The token to send or to require (read from the file now); None when neither is set."""
        if self.mcp_auth_token_file is not None:
            return SecretStr(read_token_file(self.mcp_auth_token_file))
        return self.mcp_auth_token


class McpServerSettings(McpAuthSettings):
    """`DATABASE_URL` picks the store (SQLite file or PostgreSQL); `MCP_ALLOWED_HOSTS` the Host
    names the transports accept (DNS-rebinding protection; Compose service names must pass);
    `MCP_AUTH_TOKEN` (or `_FILE`) the bearer token every caller but `/healthz` must send."""

    # Local development only: accept every caller, and so any identity it claims (auth.py).
    mcp_auth_disabled: bool = False
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
