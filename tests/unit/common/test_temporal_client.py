"""The Temporal data converter (services/common/temporal_client.py): the session contract's
payloads round-trip through pydantic, in the default converter's JSON, and every converter
instance (Temporal makes one per workflow instance) shares one validator per type."""

from __future__ import annotations

import dataclasses
import json

from temporalio.converter import DataConverter, PayloadConverter

from services.common import temporal_client
from services.common.events import TurnCompleted, Usage
from services.common.sessions import TurnRequest
from services.common.temporal_client import DATA_CONVERTER


def _fresh() -> PayloadConverter:
    return DATA_CONVERTER.payload_converter_class()


def test_an_event_and_a_dataclass_round_trip() -> None:
    event = TurnCompleted(session_id="s", turn_id="t", output="ok", usage=Usage(total_tokens=3))
    request = TurnRequest(turn_id="t", input="hello")
    payloads = _fresh().to_payloads([event, request])
    assert _fresh().from_payloads(payloads, [TurnCompleted, TurnRequest]) == [event, request]


def test_the_json_is_the_default_converters_so_running_histories_decode() -> None:
    request = TurnRequest(turn_id="t", input="hello")
    (ours,) = _fresh().to_payloads([request])
    (default,) = DataConverter.default.payload_converter.to_payloads([request])
    assert json.loads(ours.data) == json.loads(default.data) == dataclasses.asdict(request)
    assert _fresh().from_payloads([default], [TurnRequest]) == [request]


def test_a_new_converter_reuses_the_validators_built_before() -> None:
    (payload,) = _fresh().to_payloads([TurnRequest(turn_id="t", input="x")])
    _fresh().from_payloads([payload], [TurnRequest])  # built, or already there
    before = temporal_client._validator.cache_info()
    _fresh().from_payloads([payload], [TurnRequest])
    after = temporal_client._validator.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 1
