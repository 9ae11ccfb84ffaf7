"""What the routes share: settings, the store, the turn engine and the fault queue."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from services.mistral_sim.faults import FaultQueue
from services.mistral_sim.settings import SimSettings
from services.mistral_sim.store import Store
from services.mistral_sim.turns import TurnEngine


@dataclass
class SimState:
    settings: SimSettings
    store: Store
    engine: TurnEngine
    faults: FaultQueue


def sim(request: Request) -> SimState:
    state = request.app.state.sim
    assert isinstance(state, SimState)
    return state
