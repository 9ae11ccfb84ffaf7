"""The local Temporal gets the gateway's search attributes, in a new database or an older one."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from scripts.stack import servers
from services.common.sessions import SEARCH_ATTRIBUTES


async def test_a_database_made_before_the_attributes_gets_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_file = tmp_path / "temporal.db"
    with monkeypatch.context() as before:  # as `make dev` made `.data/` before they existed
        before.setattr(servers, "SEARCH_ATTRIBUTES", {})
        old = servers.start_temporal(tmp_path, db_file=db_file, name="temporal-old")
        old.process.stop()
    server = servers.start_temporal(tmp_path, db_file=db_file)
    try:
        client = await Client.connect(server.address, namespace=server.namespace)
        query = " AND ".join(f"{name} IS NOT NULL" for name in SEARCH_ATTRIBUTES)
        assert (await client.count_workflows(query)).count == 0  # an unknown one: RPCError
    finally:
        server.process.stop()
