"""The gateway app: `create_app()`, and `app` for `gunicorn services.gateway.app:app`.

Each worker process builds its own Temporal client, Redis client and event fan-out (one pub/sub
connection) in the lifespan, and closes them after the last stream has drained.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio.cluster import RedisCluster
from starlette.applications import Starlette
from starlette.middleware import Middleware
from temporalio.client import Interceptor

from services.common.bus import EventBus
from services.common.redis_client import redis_client
from services.common.settings import RedisSettings, TemporalSettings, load_settings
from services.common.telemetry import Telemetry, setup_telemetry
from services.common.temporal_client import connect_temporal
from services.gateway import metrics
from services.gateway.admission import AdmissionConfig, AdmissionLimiter
from services.gateway.auth import ApiKeys
from services.gateway.cluster_fanout import ClusterFanout
from services.gateway.fanout import Fanout
from services.gateway.guard import GuardMiddleware
from services.gateway.problems import EXCEPTION_HANDLERS
from services.gateway.ratelimit import RequestLimiter, StreamSlots
from services.gateway.routes import agents, docs, events, health, sessions, web
from services.gateway.settings import GatewaySettings
from services.gateway.state import Gateway
from services.gateway.streams import StreamOptions
from services.gateway.temporal import SessionClient

log = logging.getLogger(__name__)

REDIS_POOL_SIZE = 256
REDIS_POOL_WAIT_S = 5.0


@contextlib.asynccontextmanager
async def _resources(
    settings: GatewaySettings,
    temporal: TemporalSettings,
    redis_settings: RedisSettings,
    interceptors: list[Interceptor],
) -> AsyncIterator[Gateway]:
    keys = ApiKeys(settings.api_keys)
    keys.warn_if_dev_key()
    client = await connect_temporal(temporal, interceptors=interceptors)
    # Many streams start at once (each backfills, takes a slot): wait for a pooled connection
    # rather than fail with MaxConnectionsError, which made a 503 under 200 concurrent turns.
    redis = redis_client(redis_settings, max_connections=REDIS_POOL_SIZE, wait_s=REDIS_POOL_WAIT_S)
    bus = EventBus(
        redis, maxlen=redis_settings.event_log_maxlen, ttl_s=redis_settings.event_log_ttl_s
    )
    fanout = (
        ClusterFanout(redis, bus, queue_size=settings.gateway_client_queue)
        if isinstance(redis, RedisCluster)  # sharded pub/sub, a connection per node
        else Fanout(redis, bus, queue_size=settings.gateway_client_queue)
    )
    slots = StreamSlots(redis, settings.gateway_max_streams)
    await fanout.start()
    slots.start()
    try:
        yield Gateway(
            settings=settings,
            keys=keys,
            sessions=SessionClient(
                client, temporal.task_queue, timeout_s=settings.gateway_temporal_timeout_s
            ),
            redis=redis,
            fanout=fanout,
            limiter=RequestLimiter(redis, settings.gateway_rate_limit),
            slots=slots,
            stream_options=StreamOptions(ping_s=settings.gateway_sse_ping_s),
            admission=AdmissionLimiter(
                AdmissionConfig(
                    target_s=settings.gateway_submit_target_s,
                    min_limit=settings.gateway_submit_min_in_flight,
                    max_limit=settings.gateway_submit_max_in_flight,
                    wait_s=settings.gateway_submit_wait_s,
                )
            ),
        )
    finally:
        await slots.close()
        await fanout.close()
        await redis.aclose()


def freeze_startup_heap() -> None:
    """Move what startup built (modules, the app, its clients: objects that live as long as
    the process) out of the garbage collector's reach.

    A full collection stops every stream of the process while it walks the heap; with the
    startup heap frozen it walks only what requests made. Measured with 1,000 SSE viewers:
    full collections of 74-847 ms became 37-137 ms (`docs/benchmarks.md`).
    """
    gc.collect()  # what is already garbage goes now rather than stay frozen for good
    gc.freeze()


def create_app(
    settings: GatewaySettings | None = None,
    *,
    temporal: TemporalSettings | None = None,
    redis: RedisSettings | None = None,
    telemetry: bool = True,
) -> Starlette:
    """The app; settings default to the environment (a missing GATEWAY_API_KEYS stops here)."""
    settings = settings or load_settings(GatewaySettings)
    temporal = temporal or load_settings(TemporalSettings)
    redis_settings = redis or load_settings(RedisSettings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        interceptors = traced.temporal_interceptors()
        async with _resources(settings, temporal, redis_settings, interceptors) as gateway:
            app.state.gateway = gateway
            freeze_startup_heap()
            log.info("gateway ready (task queue %s)", temporal.task_queue)
            yield

    app = Starlette(
        routes=[
            *health.ROUTES,
            *(metrics.ROUTES if settings.metrics_route else []),
            *docs.ROUTES,
            *web.ROUTES,
            *sessions.ROUTES,
            *events.ROUTES,
            *agents.ROUTES,
        ],
        middleware=[Middleware(GuardMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    traced = setup_telemetry("gateway", app=app, redis=True) if telemetry else Telemetry(False)
    return app


def __getattr__(name: str) -> Any:
    # `app` is built on first access, so importing this module needs no environment.
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
