"""Error bodies in the real API's shapes (reference §9) and the app's exception handlers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from services.mistral_sim.jsonresponse import JsonResponse


class ApiError(Exception):
    """An error answer: status, the `{"object": "error", ...}` body, and extra headers."""

    def __init__(
        self,
        status: int,
        message: str | dict[str, Any],
        *,
        type: str = "invalid_request_error",
        code: int | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "object": "error",
            "message": self.message,
            "type": self.type,
            "param": None,
            "code": self.code,
        }

    def response(self) -> Response:
        return JsonResponse(self.body(), status_code=self.status, headers=self.headers)


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, f"{kind} {ident} not found")


def conversation_busy() -> ApiError:
    # The exact sentence the real API answers with, word for word.
    return ApiError(409, "Conversation is being updated, concurrent requests are not supported")


def missing_function_results(tool_call_ids: Sequence[str]) -> ApiError:
    ids = ", ".join(tool_call_ids)
    return ApiError(400, f"Function results are missing for tool calls: {ids}", code=3001)


def bad_request(message: str, code: int | str | None = None) -> ApiError:
    return ApiError(400, message, code=code)


def _json_safe(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str))


def validation_error(exc: ValidationError, prefix: Sequence[str | int] = ("body",)) -> ApiError:
    """422 with pydantic's details nested under `message`, as the real API nests them."""
    detail = []
    for error in exc.errors(include_url=False):
        item: dict[str, Any] = {
            "type": error["type"],
            "loc": [*prefix, *error["loc"]],
            "msg": error["msg"],
            "input": _json_safe(error.get("input")),
        }
        if "ctx" in error:
            item["ctx"] = _json_safe(error["ctx"])
        detail.append(item)
    return ApiError(422, {"detail": detail})


def invalid_json(reason: str) -> ApiError:
    return ApiError(
        422,
        {"detail": [{"type": "json_invalid", "loc": ["body"], "msg": reason, "input": None}]},
    )


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Unknown routes and wrong methods answer in the same error shape as everything else."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return ApiError(404, "Not Found").response()
    return ApiError(exc.status_code, str(exc.detail), headers=exc.headers).response()
