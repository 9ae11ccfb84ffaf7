"""The fault matrix: each (fault, phase) cell is a test on the real local stack.

A cell that cannot be meaningful is recorded n/a with its reason (and skipped), never as a pass.
The table prints at the end of the run (tests/chaos/conftest.py) and lives in
docs/reliability.md (`make chaos`).
"""

from __future__ import annotations

import asyncio

import pytest

from scripts.stack.local import DEV_API_KEY
from tests.chaos.cell import CellRun
from tests.chaos.matrix import (
    FAULT_BY_KEY,
    NOT_APPLICABLE,
    PHASE_BY_KEY,
    RECORDER,
    CellResult,
    cell_ids,
)
from tests.chaos.stack import WORKERS, ChaosStack, data_dir
from tests.e2e.client import Api

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

# The MCP-down cell gets a stack of its own, fresh: no worker has the team cached, so its session
# really resolves the team while MCP is down, and whatever that leaves behind (a registration
# still retrying) cannot fail the cells after it.
OWN_STACK = {"mcp-down-at-start"}


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("fault", "phase"), cell_ids(), ids=[f"{f}/{p}" for f, p in cell_ids()])
async def test_cell(
    fault: str,
    phase: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    reason = NOT_APPLICABLE.get((fault, phase))
    if reason is not None:
        RECORDER.record(CellResult(fault, phase, "n/a", [reason]))
        pytest.skip(f"n/a: {reason}")
    own = fault in OWN_STACK
    if own:
        where = data_dir(tmp_path_factory, f"chaos-{fault}")
        stack = await asyncio.to_thread(ChaosStack.start, where)
    else:
        stack = request.getfixturevalue("chaos")
    api = Api(stack.local.gateway_url, DEV_API_KEY)
    try:
        result = await CellRun(stack, api, FAULT_BY_KEY[fault], PHASE_BY_KEY[phase]).run()
    finally:
        await api.aclose()
        await asyncio.to_thread(_after_cell, stack, fault, own)
    RECORDER.record(result)
    assert result.status == "pass", "\n".join(result.reasons)


def _after_cell(stack: ChaosStack, fault: str, own: bool) -> None:
    """The next cell starts on a whole stack: its own fault, not this one's, is under test."""
    if own:
        stack.stop()
        return
    healed = stack.heal()
    if fault == "sim-restart":
        # The workers cache the registered team for a minute; the restarted simulator forgot
        # those agents. This cell's own next turn has met that; the next cell starts clean.
        for name in WORKERS:
            stack.local.restart_service(name)
        healed += list(WORKERS)
    if healed:
        print(f"chaos: restarted {', '.join(healed)} after the cell")
