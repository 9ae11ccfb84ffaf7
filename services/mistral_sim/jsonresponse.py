"""A JSON response rendered with orjson (datetimes and large bodies without fuss)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def empty_204() -> Response:
    """The SDK accepts only an exact 204 with no body for deletes."""
    return Response(status_code=204)
