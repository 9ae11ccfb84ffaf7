"""The web chat page: `GET /` and its assets under `/web/` (static files, no build step).

The page talks only to the public `/v1` API, with the API key the browser keeps; nothing here
needs a key. Its Content-Security-Policy allows this origin alone: no inline script or style, no
other host, so text from the model can never run as code even if it reached the DOM as markup.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB = Path(__file__).resolve().parent.parent / "static" / "web"

PAGE_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
# Assets are revalidated on each load (ETag), so a new gateway version is picked up at once.
ASSET_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
PAGE_HEADERS = {
    **ASSET_HEADERS,
    "Content-Security-Policy": PAGE_CSP,
    "Referrer-Policy": "no-referrer",
}


@cache
def _page() -> str:
    return (WEB / "index.html").read_text()


async def chat_page(request: Request) -> Response:
    return HTMLResponse(_page(), headers=PAGE_HEADERS)


class _Assets(StaticFiles):
    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(ASSET_HEADERS)
        return response


ROUTES = [
    Route("/", chat_page, methods=["GET"], include_in_schema=False),
    Mount("/web", app=_Assets(directory=WEB), name="web"),
]
