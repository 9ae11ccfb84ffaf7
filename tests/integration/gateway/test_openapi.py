"""The OpenAPI document, the offline docs page, and schemathesis over the running gateway."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx2

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
