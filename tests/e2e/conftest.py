"""The e2e suite's stack: `E2E_BASE_URL` (e.g. docker compose up), else a local stack it starts.

Tests talk to it only over HTTP/SSE, as a user would; the local stack also lets them kill and
restart processes by the pid files `make dev` writes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from scripts.stack.local import DEV_API_KEY, LocalStack, Ports
from tests.e2e.client import Api


@dataclass
class E2EStack:
    base_url: str
    api_key: str
    local: LocalStack | None

    def require_local(self) -> LocalStack:
        if self.local is None:
            pytest.skip("needs process control: runs only on the local stack")
        return self.local


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    if url := os.environ.get("E2E_BASE_URL"):
        yield E2EStack(url, os.environ.get("E2E_API_KEY", DEV_API_KEY), None)
        return
    local = LocalStack(
        tmp_path_factory.mktemp("e2e-stack"),
        Ports.free(),
        workers=2,
        temporal_ui=False,
        # A human-like stream, so a kill or a restart lands mid-reply.
        extra_env={"SIM_FIRST_TOKEN_MS": "50", "SIM_TOKENS_PER_S": "120"},
    )
    local.start()
    yield E2EStack(local.gateway_url, DEV_API_KEY, local)
    local.stop()


@pytest.fixture
async def api(stack: E2EStack) -> AsyncIterator[Api]:
    client = Api(stack.base_url, stack.api_key)
    yield client
    await client.aclose()
