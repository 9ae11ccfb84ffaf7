"""Readiness and the test-only fault queue (`/_sim/faults`)."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.mistral_sim.bodies import parse_body
from services.mistral_sim.faults import FaultSpec
from services.mistral_sim.jsonresponse import JsonResponse, empty_204
from services.mistral_sim.state import sim


async def healthz(request: Request) -> Response:
    # The pid lets a launcher tell its own server from another one bound to the same port.
    return JsonResponse({"status": "ok", "service": "mistral_sim", "pid": os.getpid()})


async def add_fault(request: Request) -> Response:
    spec = await parse_body(request, FaultSpec)
    return JsonResponse(sim(request).faults.add(spec).to_wire())


async def list_faults(request: Request) -> Response:
    return JsonResponse({"faults": [fault.to_wire() for fault in sim(request).faults.faults]})


async def clear_faults(request: Request) -> Response:
    sim(request).faults.clear()
    return empty_204()


async def idle(request: Request) -> Response:
    """Whether no turn is still generating: lets tests poll instead of sleeping."""
    running = len(sim(request).store.running)
    return JsonResponse({"idle": running == 0, "running": running})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/_sim/faults", add_fault, methods=["POST"]),
    Route("/_sim/faults", list_faults, methods=["GET"]),
    Route("/_sim/faults", clear_faults, methods=["DELETE"]),
    Route("/_sim/idle", idle, methods=["GET"]),
]
