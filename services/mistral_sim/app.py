"""The Starlette application: routes, error handlers, fault and auth middleware, lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from services.mistral_sim import (
    errors,
    routes_admin,
    routes_agents,
    routes_completions,
    routes_conversations,
)
from services.mistral_sim.auth import BearerKeyMiddleware
from services.mistral_sim.faults import FaultMiddleware, FaultQueue
from services.mistral_sim.headers import CorrelationIdMiddleware
from services.mistral_sim.settings import SimSettings
from services.mistral_sim.state import SimState
from services.mistral_sim.store import Store
from services.mistral_sim.streaming import Pacing
from services.mistral_sim.turns import TurnEngine


def create_app(settings: SimSettings | None = None) -> Starlette:
    settings = settings or SimSettings()
    store = Store()
    state = SimState(
        settings=settings,
        store=store,
        engine=TurnEngine(store, Pacing(settings.first_token_s, settings.token_interval_s)),
        faults=FaultQueue(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # Turns still generating would otherwise outlive the server's loop.
        await state.engine.shutdown()

    app = Starlette(
        routes=[
            *routes_admin.routes,
            *routes_completions.routes,
            *routes_agents.routes,
            *routes_conversations.routes,
        ],
        middleware=[
            # Faults first: an injected 429 answers before the key check, like a gateway.
            Middleware(CorrelationIdMiddleware),
            Middleware(FaultMiddleware, queue=state.faults),
            Middleware(BearerKeyMiddleware, api_key=settings.sim_api_key),
        ],
        exception_handlers={
            errors.ApiError: errors.api_error_handler,
            HTTPException: errors.http_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.sim = state
    return app
