"""The optional bearer-key check on /v1 (off unless `SIM_API_KEY` is set)."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from services.mistral_sim.ids import hex_id
from services.mistral_sim.jsonresponse import JsonResponse


class BearerKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is None or scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        # The gateway's answer: a bare message, no `object: error` envelope.
        body = {"message": "Unauthorized", "request_id": hex_id()}
        await JsonResponse(body, status_code=401)(scope, receive, send)
