"""Every /v1 request: authenticate the API key, then count it against the key's rate limit."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.problems import Problem, problem_response

log = logging.getLogger(__name__)

PROTECTED_PREFIX = "/v1/"


class GuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        gateway = scope["app"].state.gateway
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        try:
            principal = gateway.keys.authenticate(authorization)
        except Problem as denied:
            await problem_response(denied, scope["path"])(scope, receive, send)
            return
        try:
            decision = await gateway.limiter.hit(principal.key_id)
        except Exception as exc:  # Redis trouble must not turn every call into a 5xx
            log.warning("rate limiter unavailable (%s); letting the request through", exc)
            decision = None
        if decision is not None and not decision.allowed:
            problem = Problem(
                429,
                "rate-limited",
                f"Over {decision.limit} requests per minute for this API key.",
                headers=decision.headers(),
            )
            await problem_response(problem, scope["path"])(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        if decision is None:
            await self.app(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_limits)
