"""At start, a worker without a Mistral key checks that its model endpoint answers.

Without `MISTRAL_API_KEY` the worker talks to the simulator (or to a keyless origin named by
`MISTRAL_SERVER_URL`). When nothing answers there, as in Compose without `--profile offline`,
a worker that started anyway would report healthy and fail every turn after its retries; it stops
here instead, with one line saying what to do. With a key the endpoint is the real API: its
outages are retried turn by turn and are no reason to stay down, so it is not checked.
"""

from __future__ import annotations

import asyncio
import socket
import time

import httpx2
from pydantic import Field

from services.common.settings import ConfigError, ServiceSettings
from services.worker.settings import WorkerSettings


class ModelCheckSettings(ServiceSettings):
    # Seconds a keyless worker waits at start for its model endpoint to answer (a simulator that
    # starts beside it, as Kubernetes may start it, gets this long).
    model_start_wait_s: float = Field(default=15, ge=0)


class ModelEndpointUnavailable(ConfigError):
    """No key, and the simulator (or keyless endpoint) does not answer: one line, at start."""


async def check_model_endpoint(settings: WorkerSettings, wait_s: float) -> None:
    """Return once the keyless model endpoint gives any HTTP answer; raise after `wait_s`, or at
    once when its host name does not resolve (a Compose service that is not running)."""
    if not settings.uses_simulator:
        return
    url = settings.mistral_url.rstrip("/")
    deadline = time.monotonic() + wait_s
    async with httpx2.AsyncClient(timeout=2.0) as client:
        while True:
            try:
                await client.get(f"{url}/healthz")
                return  # any status: something that speaks HTTP is there
            except httpx2.HTTPError as error:
                reason = _reason(error)
                if _unresolvable(error) or time.monotonic() >= deadline:
                    raise ModelEndpointUnavailable(_message(settings, url, reason)) from None
            await asyncio.sleep(0.2)


def _message(settings: WorkerSettings, url: str, reason: str) -> str:
    where = (
        "MISTRAL_SERVER_URL"
        if settings.mistral_server_url
        else "the Mistral simulator, MISTRAL_SIMULATOR_URL"
    )
    return (
        f"MISTRAL_API_KEY is not set and the model endpoint at {url} ({where}) does not answer "
        f"({reason}): start the simulator (`docker compose --profile offline up`; `make dev` "
        "starts it) or set MISTRAL_API_KEY"
    )


def _unresolvable(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _reason(error: httpx2.HTTPError) -> str:
    if _unresolvable(error):
        return "its host name does not resolve"
    if isinstance(error, httpx2.TimeoutException):
        return "timed out"
    if isinstance(error, httpx2.ConnectError):
        return "cannot connect"
    return type(error).__name__
