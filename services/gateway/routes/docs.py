"""`/openapi.json` and `/docs`: a self-contained page (no CDN) that renders the document."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from services.gateway.openapi import openapi_document
from services.gateway.routes.agents import offered_teams

STATIC = Path(__file__).resolve().parent.parent / "static"


@cache
def _docs_page() -> str:
    return (STATIC / "docs.html").read_text()


async def openapi_json(request: Request) -> Response:
    # The teams a session may start with now: the document says exactly what is accepted.
    return JSONResponse(openapi_document(frozenset(await offered_teams(request))))


async def docs_page(request: Request) -> Response:
    # The page's script is inline: allow it, and nothing from other origins.
    csp = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
    return HTMLResponse(_docs_page(), headers={"Content-Security-Policy": csp})


ROUTES = [
    Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False),
    Route("/docs", docs_page, methods=["GET"], include_in_schema=False),
]
