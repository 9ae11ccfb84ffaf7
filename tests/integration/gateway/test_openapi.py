"""The OpenAPI document, the offline docs page, and schemathesis over the running gateway."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx2
import jsonschema

from tests.fixtures.gateway import GatewayServer

# 413 is how the gateway rejects an over-long input (the contract), so it counts as a rejection.
# A page_token is opaque: one this API did not issue matches the schema and is still a 400.
SCHEMATHESIS_CONFIG = """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 404, 405, 406, 409, 413, 415, 422, 429]

[[operations]]
include-operation-id = "listSessions"
[operations.checks.positive_data_acceptance]
expected-statuses = [200, 400, 401, 429, 502, 503]
"""


async def test_openapi_document_describes_the_api(gateway_server: GatewayServer) -> None:
    async with httpx2.AsyncClient(base_url=gateway_server.url) as client:
        document = (await client.get("/openapi.json")).json()
        listed = await client.get("/v1/agents", headers=gateway_server.headers("a"))
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/v1/sessions",
        "/v1/sessions/{sid}",
        "/v1/sessions/{sid}/messages",
        "/v1/sessions/{sid}/events",
        "/v1/sessions/{sid}/turns",
        "/v1/sessions/{sid}/turns/{tid}/cancel",
        "/v1/sessions/{sid}/approvals/{aid}",
        "/v1/agents",
        "/healthz",
        "/readyz",
    }
    create = document["components"]["schemas"]["CreateSession"]["properties"]
    # GATEWAY_AGENTS unset: the teams the workers published (the session workers of other
    # tests share this Redis), else the default team: what a session may start with now.
    published = sorted(team["name"] for team in listed.json()["data"])
    assert create["agent"]["enum"] == (published or ["nutrisense"])
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def response_schema(document: dict[str, Any], path: str, status: str) -> dict[str, Any]:
    """The schema of `GET path`'s `status` JSON answer, its references resolvable."""
    content = document["paths"][path]["get"]["responses"][status]["content"]
    return {**content["application/json"]["schema"], "components": document["components"]}


def properties(document: dict[str, Any], name: str) -> set[str]:
    return set(document["components"]["schemas"][name]["properties"])


async def test_a_session_is_its_documented_fields_and_nothing_else(
    gateway_server: GatewayServer,
) -> None:
    sid = f"t-{uuid.uuid4().hex[:12]}"
    async with httpx2.AsyncClient(
        base_url=gateway_server.url, headers=gateway_server.headers("a"), timeout=20
    ) as client:
        document = (await client.get("/openapi.json")).json()
        sent = await client.post(f"/v1/sessions/{sid}/messages", json={"input": "hello"})
        assert sent.status_code == 202, sent.text
        async with asyncio.timeout(10):  # until the turn has its answer and usage
            while True:
                body = (await client.get(f"/v1/sessions/{sid}")).json()
                if body["turns"][0]["status"] == "completed":
                    break
                await asyncio.sleep(0.02)
        page = (await client.get(f"/v1/sessions/{sid}/turns")).json()
    jsonschema.validate(body, response_schema(document, "/v1/sessions/{sid}", "200"))
    jsonschema.validate(page, response_schema(document, "/v1/sessions/{sid}/turns", "200"))
    # The session's status holds the conversation id of its turn (fake_activities.py); a client
    # sees exactly what the document names.
    assert "conversation_id" not in body
    assert set(body) == properties(document, "SessionOut")
    assert set(body["turns"][0]) == properties(document, "TurnOut")
    assert set(page["turns"][0]) == properties(document, "TranscriptTurnOut")


async def test_docs_page_works_offline(gateway_server: GatewayServer) -> None:
    async with httpx2.AsyncClient(base_url=gateway_server.url) as client:
        page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in page.text
    # Nothing is fetched from elsewhere: no absolute URL, and the CSP forbids other origins.
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


async def test_schemathesis_finds_no_server_error_or_schema_violation(
    gateway_server: GatewayServer, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    argv = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{gateway_server.url}/openapi.json",
        "-H",
        f"Authorization: Bearer {gateway_server.keys['dev']}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "10",
        "--seed",
        "20261124",
        "--no-shrink",
        # One worker: Python 3.11's ast module is not thread-safe under hypothesis.
        "--workers",
        "1",
        # A stream of an existing session never ends by itself.
        "--request-timeout",
        "3",
    ]
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 110)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert "Tested: 12" in report
