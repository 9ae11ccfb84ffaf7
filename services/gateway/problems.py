"""RFC 9457 problem details: every error the gateway answers is `application/problem+json`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

from services.gateway import metrics

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:durable-agents:problem:"


class Problem(Exception):
    """An error answer: raise it anywhere under a route and the handler renders it."""

    def __init__(
        self,
        status: int,
        slug: str | None = None,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or slug or str(status))
        self.status = status
        # No slug: the status code says it all (RFC 9457 "about:blank").
        self.type = f"{TYPE_PREFIX}{slug}" if slug else "about:blank"
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def amended(
        self, *, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> Problem:
        """The same problem (status, type, title) with another detail and more headers/fields."""
        amended = Problem(
            self.status,
            detail=detail,
            title=self.title,
            headers={**self.headers, **(headers or {})},
            **{**self.extra, **extra},
        )
        amended.type = self.type
        return amended

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    if problem.status == 429:  # every refusal passes here: counted by its reason
        metrics.rejected(problem.type.rpartition(":")[2])
    return Response(
        orjson.dumps(problem.body(instance)),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    detail = exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None
    return problem_response(
        Problem(exc.status_code, detail=detail, headers=headers), request.url.path
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(Problem(500, "internal", "An unexpected error occurred."))


EXCEPTION_HANDLERS: dict[Any, ExceptionHandler] = {
    Problem: _on_problem,
    HTTPException: _on_http_exception,
    Exception: _on_unexpected,
}
