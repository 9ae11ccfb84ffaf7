"""What one gateway process holds for its whole life, built in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from services.gateway.admission import AdmissionLimiter
from services.gateway.auth import ApiKeys, Principal
from services.gateway.fanout import Fanout
from services.gateway.ratelimit import RequestLimiter, StreamSlots
from services.gateway.settings import GatewaySettings
from services.gateway.streams import StreamOptions
from services.gateway.temporal import SessionClient

if TYPE_CHECKING:
    from services.common.redis_client import AnyRedis


@dataclass
class Gateway:
    settings: GatewaySettings
    keys: ApiKeys
    sessions: SessionClient
    redis: AnyRedis
    fanout: Fanout
    limiter: RequestLimiter
    slots: StreamSlots
    stream_options: StreamOptions
    admission: AdmissionLimiter


def gateway(request: Request) -> Gateway:
    found: Gateway = request.app.state.gateway
    return found


def principal(request: Request) -> Principal:
    """Set by the guard middleware on every /v1 request."""
    found: Principal = request.scope["state"]["principal"]
    return found
