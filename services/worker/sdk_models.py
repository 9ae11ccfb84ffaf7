"""The Mistral SDK's request (de)serializers, without a new model class per request.

`mistralai.client.utils.serializers` wraps every request body in a pydantic model built on the
spot (`create_model("Marshaller", body=(type, ...))`, and again for `Unmarshaller`): ~1-2 ms of
CPU per request, 8% of a busy worker's samples (docs/benchmarks.md). The class depends only on
its name, the body's type and the config, so one class per such key does the same work. The
model classes are never mutated after creation, so sharing them changes nothing but the cost.
"""

from __future__ import annotations

from typing import Any

from mistralai.client.utils import serializers
from pydantic import BaseModel, create_model

_original = create_model  # what the SDK's serializers import
_made: dict[tuple[Any, ...], type[BaseModel]] = {}


def _cached_create_model(name: str, /, **fields: Any) -> type[BaseModel]:
    config = fields.pop("__config__", None)
    body = fields.get("body")
    if set(fields) != {"body"} or not isinstance(body, tuple):
        return _uncached(name, config, fields)
    try:
        key = (name, body, tuple(sorted((config or {}).items())))
        hash(key)
    except TypeError:  # a body type or config value that cannot be a key
        return _uncached(name, config, fields)
    made = _made.get(key)
    if made is None:
        made = _made[key] = _uncached(name, config, fields)
    return made


def _uncached(name: str, config: Any, fields: dict[str, Any]) -> type[BaseModel]:
    made: type[BaseModel] = _original(name, __config__=config, **fields)
    return made


def install() -> None:
    """Route the SDK's serializers through the cache (idempotent)."""
    vars(serializers)["create_model"] = _cached_create_model
