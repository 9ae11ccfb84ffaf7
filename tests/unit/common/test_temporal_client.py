"""The Temporal data converter (services/common/temporal_client.py): the session contract's
payloads round-trip through pydantic, in the default converter's JSON, and every converter
instance (Temporal makes one per workflow instance) shares one validator per type."""

from __future__ import annotations

import dataclasses
import json

from temporalio.converter import DataConverter, PayloadConverter

from services.common import temporal_client
from services.common.events import TurnCompleted
from services.common.sessions import TurnRequest, TurnUsage
from services.common.temporal_client import DATA_CONVERTER


def _fresh() -> PayloadConverter:
    return DATA_CONVERTER.payload_converter_class()


def test_an_event_and_a_session_request_round_trip() -> None:
    event = TurnCompleted(session_id="s", turn_id="t", output="ok", usage=TurnUsage(total_tokens=3))
    request = TurnRequest(turn_id="t", input="hello")
    payloads = _fresh().to_payloads([event, request])
    assert _fresh().from_payloads(payloads, [TurnCompleted, TurnRequest]) == [event, request]


@dataclasses.dataclass
class _Step:
    """A dataclass payload, as the worker's activity inputs and results are."""

    call_id: str
    arguments: dict[str, str] = dataclasses.field(default_factory=dict)
    agent: str | None = None


def test_the_json_is_the_default_converters_so_running_histories_decode() -> None:
    # The session contract's models: tests/unit/common/test_session_contract.py.
    step = _Step(call_id="c", arguments={"a": "b"})
    (ours,) = _fresh().to_payloads([step])
    (default,) = DataConverter.default.payload_converter.to_payloads([step])
    assert json.loads(ours.data) == json.loads(default.data) == dataclasses.asdict(step)
    assert _fresh().from_payloads([default], [_Step]) == [step]


def test_a_new_converter_reuses_the_validators_built_before() -> None:
    (payload,) = _fresh().to_payloads([TurnRequest(turn_id="t", input="x")])
    _fresh().from_payloads([payload], [TurnRequest])  # built, or already there
    before = temporal_client._validator.cache_info()
    _fresh().from_payloads([payload], [TurnRequest])
    after = temporal_client._validator.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 1
