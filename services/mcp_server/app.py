"""The ASGI app: streamable HTTP at /mcp (stateless, JSON), legacy SSE at /sse, GET /healthz.

Every path but /healthz needs the worker's bearer token (auth.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.settings import load_settings
from services.common.telemetry import setup_telemetry
from services.mcp_server import metrics
from services.mcp_server.auth import DISABLED_WARNING, BearerTokenAuth, server_token
from services.mcp_server.clock import Clock, system_clock
from services.mcp_server.diary import NutritionDiary
from services.mcp_server.estimates import FoodEstimator, MistralFoodEstimator
from services.mcp_server.nutrition import load_food_table
from services.mcp_server.server import SERVER_NAME, build_server
from services.mcp_server.settings import McpServerSettings
from services.mcp_server.store import NutritionStore

logger = logging.getLogger(__name__)


def transport_security(settings: McpServerSettings) -> TransportSecuritySettings:
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=settings.host_check_enabled,
        allowed_hosts=settings.allowed_hosts,
        allowed_origins=settings.allowed_origins,
    )


def _routes(server: MCPServer, settings: McpServerSettings) -> list[Route]:
    security = transport_security(settings)
    # Stateless: any worker process or replica can answer any request (no session affinity).
    streamable = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=settings.mcp_json_response,
        transport_security=security,
    )
    legacy_sse = server.sse_app(
        sse_path="/sse", message_path="/messages/", transport_security=security
    )
    return [*streamable.routes, *legacy_sse.routes]  # type: ignore[list-item]


def _estimator(settings: McpServerSettings) -> FoodEstimator | None:
    if not settings.estimates_enabled or settings.mistral_api_key is None:
        return None
    return MistralFoodEstimator(
        settings.mistral_api_key.get_secret_value(),
        model=settings.nutrisense_estimate_model,
        server_url=settings.nutrisense_estimate_server_url,
    )


def create_app(
    settings: McpServerSettings | None = None,
    clock: Clock = system_clock,
    *,
    telemetry: bool = True,
) -> Starlette:
    """The whole server; `clock` is injectable so tests can move across a day boundary.

    With `telemetry`, requests are traced through Logfire/OpenTelemetry; the MCP SDK adds its own
    spans and joins the caller's trace from the request `_meta`.
    """
    settings = settings or load_settings(McpServerSettings)
    token = server_token(settings)  # before anything opens: no token, no server
    if token is None:
        logger.warning(DISABLED_WARNING)
    # Stateless requests each open and close a "session": that is not news worth a log line.
    logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)
    store = NutritionStore.from_url(settings.database_url)
    diary = NutritionDiary(store, load_food_table(), clock, estimator=_estimator(settings))
    server = build_server(diary)
    routes = _routes(server, settings)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "server": SERVER_NAME})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await store.create_schema()
        try:
            async with server.session_manager.run():
                yield
        finally:
            await store.close()

    # Outside the routes, so a route added later is guarded too (deny by default).
    middleware = [Middleware(BearerTokenAuth, token=token)] if token is not None else []
    app = Starlette(
        routes=[Route("/healthz", healthz), *metrics.ROUTES, *routes],
        middleware=middleware,
        lifespan=lifespan,
    )
    if telemetry:
        setup_telemetry("mcp-server", app=app)
    return app
