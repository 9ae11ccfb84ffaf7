from __future__ import annotations

from services.common.events import parse_event
from tests.fixtures.worker import SessionDriver


async def test_one_turn_streams_and_completes(driver: SessionDriver) -> None:
    handle = await driver.start()
    receipt = await driver.submit(handle, "Set my calorie goal to 2000 calories, 100g protein.")
    events = await driver.events_until_done(handle, receipt.turn_id)
    types = [e.type for e in events]
    print(types)
    for e in events:
        print(parse_event(e.data))
    assert types[0] == "turn.started"
    assert types[-1] == "turn.completed"
