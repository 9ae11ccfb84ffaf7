"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: Temporal and Redis do)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common import redis_client
from services.gateway.problems import Problem, problem_response
from services.gateway.state import gateway


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _check(name: str, probe: Awaitable[Any]) -> tuple[str, str]:
    try:
        async with asyncio.timeout(2):
            await probe
    except Exception as exc:
        return name, f"unavailable: {type(exc).__name__}"
    return name, "ok"


async def readyz(request: Request) -> Response:
    gw = gateway(request)
    results = dict(
        await asyncio.gather(
            _check("temporal", gw.sessions.ping()),
            _check("redis", redis_client.ping(gw.redis)),
        )
    )
    if all(value == "ok" for value in results.values()):
        return JSONResponse({"status": "ok", "checks": results})
    problem = Problem(503, "not-ready", "A dependency is unavailable.", checks=results)
    problem.headers["Retry-After"] = "1"
    return problem_response(problem, request.url.path)


ROUTES = [
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
    Route("/readyz", readyz, methods=["GET"], name="readyz"),
]
