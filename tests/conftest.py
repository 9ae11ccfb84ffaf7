"""Shared test set-up: fixture plugins that start real servers, and the exit guard."""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.redis_cluster",
    "tests.fixtures.mistral_sim",
    "tests.fixtures.mcp_server",
    "tests.fixtures.gateway",
    "tests.fixtures.worker",
]


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """temporalio can crash at interpreter exit (sdk-python#300), turning a green run red.

    After pytest has written its summary, leave with its own status and skip interpreter teardown.
    """
    if os.environ.get("DA_TEST_NO_HARD_EXIT"):
        return
    status = getattr(config, "_da_exitstatus", None)
    if status is not None:
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(status))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._da_exitstatus = exitstatus  # type: ignore[attr-defined]
