"""The opt-in Mistral estimate for unknown foods, against a stub of the chat completions API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.mcp_server.app import create_app
from services.mcp_server.settings import McpServerSettings
from tests.fixtures.mcp_server import MCP_TEST_TOKEN
from tests.integration.mcp_server.inprocess import serve
from tests.integration.mcp_server.mcp_client import User, call, data_of, mcp_session, text_of

# Consistent: 4 x 8 + 4 x 30 + 9 x 16.5 = 300.5 kcal per 100 g.
FRITTER = {
    "name": "Zorblax fritter",
    "grams": 90,
    "calories_kcal_per_100g": 300,
    "protein_g_per_100g": 8,
    "carbs_g_per_100g": 30,
    "fat_g_per_100g": 16.5,
    "fibre_g_per_100g": 2,
}
# Inconsistent: 900 kcal claimed from 2 g of macros. Refused.
NONSENSE = {**FRITTER, "name": "glorp", "calories_kcal_per_100g": 900, "fat_g_per_100g": 0}


def stub_mistral(requests: list[dict[str, Any]]) -> Starlette:
    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        requests.append(body)
        phrase = body["messages"][-1]["content"]
        answer = FRITTER if "zorblax" in phrase else NONSENSE
        return JSONResponse(
            {
                "id": "cmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "created": 1,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": json.dumps(answer)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


async def test_unknown_foods_get_a_marked_estimate_only_when_enabled(tmp_path: Path) -> None:
    requests: list[dict[str, Any]] = []
    user = User.fresh()
    async with serve(stub_mistral(requests)) as mistral_url:
        settings = McpServerSettings(
            database_url=f"sqlite:///{tmp_path / 'diary.db'}",
            nutrisense_estimate_unknown_foods=True,
            mistral_api_key=SecretStr("test-key"),
            mcp_auth_token=SecretStr(MCP_TEST_TOKEN),
            nutrisense_estimate_server_url=mistral_url,
        )
        app = create_app(settings, telemetry=False)
        async with serve(app) as base_url, mcp_session(f"{base_url}/mcp") as session:
            result = await call(
                session, "food_log", "1 apple, 3 zorblax fritters and a glorp for lunch", user
            )

    log = data_of(result)
    assert [(i["food"], i["estimated"]) for i in log["items"]] == [
        ("apple", False),
        ("zorblax fritter", True),
    ]
    fritter = log["items"][1]
    assert (fritter["grams"], fritter["meal"]) == (90, "lunch")
    assert fritter["nutrients"] == {
        "calories_kcal": 270.0,
        "protein_g": 7.2,
        "carbs_g": 27.0,
        "fat_g": 14.8,  # 16.5 x 0.9 = 14.85, one decimal
        "fibre_g": 1.8,
    }
    assert log["unknown"] == ["a glorp"]
    assert "zorblax fritter: 90 g (90 g) [lunch] (estimate, not from the table)" in text_of(result)
    assert len(requests) == 2
    assert requests[0]["response_format"]["type"] == "json_schema"


async def test_estimates_are_off_by_default(tmp_path: Path) -> None:
    settings = McpServerSettings(
        database_url=f"sqlite:///{tmp_path / 'diary.db'}",
        mistral_api_key=SecretStr("k"),
        mcp_auth_token=SecretStr(MCP_TEST_TOKEN),
    )
    assert not settings.estimates_enabled
    async with (
        serve(create_app(settings, telemetry=False)) as base_url,
        mcp_session(f"{base_url}/mcp") as session,
    ):
        log = data_of(
            await call(session, "food_log", "1 apple and 3 zorblax fritters", User.fresh())
        )
    assert [i["food"] for i in log["items"]] == ["apple"]
    assert log["unknown"] == ["3 zorblax fritters"]
