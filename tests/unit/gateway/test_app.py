"""The gateway's start-up steps that need no server."""

from __future__ import annotations

import gc

from services.gateway.app import freeze_startup_heap


def test_the_startup_heap_is_frozen_out_of_full_collections() -> None:
    before = gc.get_freeze_count()
    made: list[list[int]] = [
        [] for _ in range(1000)
    ]  # container objects made during start-up, kept
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= before + len(made)
    finally:
        gc.unfreeze()
