"""A worker without a Mistral key whose model endpoint does not answer (Compose without
`--profile offline`) stops at start with one line, instead of reporting healthy and failing every
turn; one with a key, or with a simulator that answers, starts."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from scripts.stack.processes import REPO_ROOT, free_port
from services.worker.model_endpoint import ModelEndpointUnavailable, check_model_endpoint
from services.worker.settings import WorkerSettings


def settings(**fields: Any) -> WorkerSettings:
    base: dict[str, Any] = {"mistral_api_key": None, "mcp_auth_token": SecretStr("x" * 16)}
    return WorkerSettings(**{**base, **fields})


class NotFound(BaseHTTPRequestHandler):
    """An HTTP server with no /healthz: still an endpoint that answers."""

    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def answering_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_an_endpoint_that_answers_passes_whatever_its_status(answering_url: str) -> None:
    await check_model_endpoint(settings(mistral_simulator_url=answering_url), wait_s=0)
    await check_model_endpoint(settings(mistral_server_url=answering_url), wait_s=0)


async def test_with_a_key_the_real_api_is_not_checked() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    await check_model_endpoint(
        settings(mistral_api_key=SecretStr("k"), mistral_server_url=closed), wait_s=0
    )


async def test_nothing_listening_fails_after_the_wait_naming_what_to_do() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ModelEndpointUnavailable) as caught:
        await check_model_endpoint(settings(mistral_simulator_url=closed), wait_s=0.3)
    line = str(caught.value)
    assert "\n" not in line
    assert closed in line
    assert "MISTRAL_SIMULATOR_URL" in line
    assert "--profile offline" in line
    assert "set MISTRAL_API_KEY" in line


async def test_a_simulator_starting_within_the_wait_is_waited_for() -> None:
    port = free_port()
    server: list[ThreadingHTTPServer] = []

    def start_later() -> None:
        server.append(ThreadingHTTPServer(("127.0.0.1", port), NotFound))
        threading.Thread(target=server[0].serve_forever, daemon=True).start()

    # Starts after the first attempt failed; the check polls until it answers.
    timer = threading.Timer(0.3, start_later)
    timer.start()
    try:
        await check_model_endpoint(
            settings(mistral_simulator_url=f"http://127.0.0.1:{port}"), wait_s=20
        )
    finally:
        timer.join()
        server[0].shutdown()
        server[0].server_close()


async def test_a_host_name_that_does_not_resolve_fails_without_waiting() -> None:
    """Compose without the offline profile: the `mistral-sim` name does not exist."""
    started = time.monotonic()
    with pytest.raises(ModelEndpointUnavailable, match="does not resolve"):
        await check_model_endpoint(
            settings(mistral_simulator_url="http://mistral-sim.invalid:8800"), wait_s=60
        )
    assert time.monotonic() - started < 60


async def test_the_worker_process_stops_at_start_with_one_line(temporal_server: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "MISTRAL_"))}
    env |= {
        "TEMPORAL_ADDRESS": temporal_server.address,
        "TEMPORAL_CONFIG_FILE": os.devnull,
        "MISTRAL_SIMULATOR_URL": f"http://127.0.0.1:{free_port()}",
        "MODEL_START_WAIT_S": "0.5",
        "MCP_AUTH_TOKEN": "test-token-of-sixteen-chars",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "TRACING": "off",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.worker",
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    text = stderr.decode()
    assert process.returncode == 1, text
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[-1].startswith("MISTRAL_API_KEY is not set and the model endpoint"), lines
    assert env["MISTRAL_SIMULATOR_URL"] in lines[-1]
