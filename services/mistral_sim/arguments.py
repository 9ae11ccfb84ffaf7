"""A function call's arguments, filled from the tool's JSON schema and the user's message.

Required parameters always get a value of the right type; optional ones only when the message
says something for them. A parameter named like a query (`user_query`, `query`, `question`)
gets the whole message, which is the NutriSense tools' contract.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.mistral_sim import facts, fill
from services.mistral_sim.hints import split_name


def arguments_for(
    function: dict[str, Any], text: str, today: dt.date | None = None
) -> dict[str, Any]:
    parameters = function.get("parameters") or {}
    if not isinstance(parameters, dict) or not parameters.get("properties"):
        return {}
    ctx = fill.Context(
        facts=facts.read(text, today),
        root=parameters,
        skip=frozenset(split_name(str(function.get("name", "")))),
    )
    found = fill.value({**parameters, "type": "object"}, "", ctx, required=True)
    return dict(found) if isinstance(found, dict) else {}
