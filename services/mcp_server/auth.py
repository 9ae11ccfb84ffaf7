"""Only the worker may call the tools: a shared bearer token on every request but `/healthz`.

The caller's identity (`_meta`, or the X-User-Id/X-Tenant-Id headers) says whose diary a call
is for. It can be trusted only because the caller proved it is the worker, which took it from a
session the gateway authenticated. So the check is deny-by-default: every path, including any
route added later, needs `Authorization: Bearer <MCP_AUTH_TOKEN>`, except the open ones.
"""

from __future__ import annotations

import hmac
import logging

from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.settings import ConfigError
from services.mcp_server.auth_token import UNAUTHORIZED_CODE
from services.mcp_server.settings import McpServerSettings

logger = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz", "/metrics"})
REALM = "nutrisense-mcp"

NO_TOKEN = (
    "configuration error: MCP_AUTH_TOKEN is not set: the MCP server accepts tool calls only from "
    "a caller with this shared secret. Set MCP_AUTH_TOKEN (or MCP_AUTH_TOKEN_FILE) to the "
    "workers' value, or MCP_AUTH_DISABLED=true for local development only"
)
CONTRADICTION = (
    "configuration error: MCP_AUTH_DISABLED=true and a token (MCP_AUTH_TOKEN or "
    "MCP_AUTH_TOKEN_FILE) are both set: unset one"
)
DISABLED_WARNING = (
    "MCP_AUTH_DISABLED=true: the MCP server accepts EVERY caller and trusts whatever user and "
    "tenant it claims. For local development only; never where another container can reach it"
)


def server_token(settings: McpServerSettings) -> SecretStr | None:
    """The token callers must send; None only when auth is explicitly disabled.

    No token and no opt-out stops the server at start (ConfigError: one line naming the
    variable): a server that silently trusted every caller would be the unsafe default.
    """
    token = settings.mcp_auth_secret()
    if settings.mcp_auth_disabled:
        if token is not None:
            raise ConfigError(CONTRADICTION)
        return None
    if token is None:
        raise ConfigError(NO_TOKEN)
    return token


class BearerTokenAuth:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer the SSE transport)."""

    def __init__(self, app: ASGIApp, token: SecretStr) -> None:
        self.app = app
        self._expected = token.get_secret_value().encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(Headers(scope=scope).get("authorization"))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        error, detail = refusal
        client = scope.get("client") or ("?", 0)
        # Who and where, never what was presented: a wrong token may be a near-miss of the real one.
        logger.warning("refused an MCP request from %s to %s: %s", client[0], scope["path"], detail)
        await unauthorized(detail, error)(scope, receive, send)

    def _refusal(self, header: str | None) -> tuple[str | None, str] | None:
        """None when the request carries this server's token, else (RFC 6750 error, detail)."""
        if not header:
            return None, "no credentials: send Authorization: Bearer <MCP_AUTH_TOKEN>"
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return "invalid_request", "the Authorization header must be Bearer <MCP_AUTH_TOKEN>"
        # Constant time: the comparison must not tell an attacker how much of a guess was right.
        # Starlette decodes headers as latin-1, so this round-trips every byte sent.
        if not hmac.compare_digest(presented.strip().encode("latin-1"), self._expected):
            return "invalid_token", "the bearer token is not this server's MCP_AUTH_TOKEN"
        return None


def unauthorized(detail: str, error: str | None = None) -> JSONResponse:
    """401 with a JSON-RPC error body (id null, as the SDK's own transport errors): MCP clients
    then raise this message instead of a bare "Server returned an error response"."""
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": UNAUTHORIZED_CODE, "message": f"Unauthorized: {detail}"},
    }
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": challenge})
