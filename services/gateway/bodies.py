"""Reading JSON bodies: size limit first, then parsing, then validation; each a clear 4xx."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from services.gateway.problems import Problem

M = TypeVar("M", bound=BaseModel)


def too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", f"The request body is over {limit} bytes.", limit=limit)


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refusing it once it is over `limit` bytes (before it is all read)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Problem(400, "bad-content-length", "Content-Length is not a number.")
        if int(declared) > limit:
            raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise Problem(400, "client-disconnected", "The request body was cut short.") from None
    return b"".join(chunks)


def _check_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        return  # curl -d without -H: JSON is the only thing we take
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise Problem(415, "unsupported-media-type", "Send the body as application/json.")


async def read_model(request: Request, model: type[M], limit: int, *, empty_ok: bool = False) -> M:
    """The body as `model`: 413 when too big, 415 when not JSON, 400 when malformed, else 422."""
    raw = await read_limited(request, limit)
    if not raw.strip() and empty_ok:
        return model()
    _check_content_type(request)
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Problem(400, "malformed-json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Problem(422, "invalid-body", "The body must be a JSON object.", errors=[])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def validation_problem(exc: ValidationError) -> Problem:
    errors = [
        {
            "loc": [str(part) for part in error["loc"]],
            "msg": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]
    if any(e["loc"] == ["input"] and e["type"] == "string_too_long" for e in errors):
        return Problem(413, "input-too-large", "The input is too long.", errors=errors)
    return Problem(422, "invalid-body", "The body does not match the schema.", errors=errors)
