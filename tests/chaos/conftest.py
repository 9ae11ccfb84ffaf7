"""The chaos suite's stack (one LocalStack for the whole matrix) and the matrix printout."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.matrix import RECORDER, RESULTS_ENV, render
from tests.chaos.stack import ChaosStack, data_dir


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: a cell of the fault matrix (tests/chaos)")


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    """The stack every cell shares (requested lazily: a cell with its own stack runs first)."""
    stack = ChaosStack.start(data_dir(tmp_path_factory, "chaos-stack"))
    try:
        yield stack
    finally:
        stack.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RECORDER.results:
        return
    terminalreporter.section("fault matrix (issue 12; docs/reliability.md)")
    terminalreporter.write_line(render(RECORDER.results))
    if path := os.environ.get(RESULTS_ENV):
        RECORDER.dump(Path(path))
