"""Reading request bodies and query parameters, with 422s in the real API's shape."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request

from services.mistral_sim import errors

M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise errors.invalid_json(f"JSON decode error: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise errors.validation_error(exc) from None


_INT = TypeAdapter(int)
_BOOL = TypeAdapter(bool)


def int_param(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return _INT.validate_python(raw, strict=False)
    except ValidationError as exc:
        raise errors.validation_error(exc, ("query", name)) from None


def bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return _BOOL.validate_python(raw, strict=False)
    except ValidationError as exc:
        raise errors.validation_error(exc, ("query", name)) from None


def metadata_param(request: Request) -> dict[str, Any] | None:
    """The JSON `metadata` filter; anything but an object (e.g. the SDK's unset sentinel,
    reference §1.5) is ignored."""
    raw = request.query_params.get("metadata")
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
