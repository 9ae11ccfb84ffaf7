"""The session contract's JSON: what running workflow histories hold must still decode, the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload

from services.common import events
from services.common.sessions import (
    SessionStart,
    SessionStatus,
    TranscriptPage,
    TurnError,
    TurnReceipt,
    TurnRecord,
    TurnRequest,
    TurnUsage,
)
from services.common.temporal_client import DATA_CONVERTER
from services.worker.session_state import CARRY

# A turn record as the dataclass version of services/common/sessions.py wrote it.
RECORD = (
    '{"turn_id":"turn_1","status":"failed","submitted_at":"2026-12-02T07:00:00+00:00",'
    '"input":"two eggs","started_at":"2026-12-02T07:00:00.1+00:00",'
    '"finished_at":"2026-12-02T07:00:02+00:00","output":null,'
    '"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12},'
    '"error":{"code":"model_unavailable","message":"the model did not answer"},"steps":2,'
    '"agent":"nutrition-agent","tool_calls":[{"name":"food_log",'
    '"arguments":"{\\"food\\": \\"egg\\"}","result":"logged","error":null}]}'
)
# Payloads byte for byte as the dataclass version wrote them through DATA_CONVERTER.
DATACLASS_PAYLOADS: list[tuple[type[Any], str]] = [
    (
        SessionStart,
        '{"session_id":"ses_1","tenant_id":"t1","user_id":"u1","agent":"nutrisense",'
        '"metadata":{"k":"v"},"timezone":"Europe/Paris",'
        '"carried":{"created_at":"2026-12-02T07:00:00+00:00"}}',
    ),
    (
        TurnRequest,
        '{"turn_id":"turn_1","input":"two eggs","on_busy":"interrupt",'
        '"trace_context":{"traceparent":"00-1-2-01"},'
        '"submitted_at":"2026-12-02T07:00:00+00:00"}',
    ),
    (
        TurnReceipt,
        '{"turn_id":"turn_2","status":"queued","position":1,"duplicate":false,'
        '"interrupted":["turn_1"]}',
    ),
    (
        SessionStatus,
        '{"session_id":"ses_1","tenant_id":"t1","user_id":"u1","agent":"nutrisense",'
        '"state":"open","created_at":"2026-12-02T07:00:00+00:00","running_turn":null,'
        f'"queued_turns":[],"turns":[{RECORD}],"metadata":{{"k":"v"}},'
        '"pending_approvals":[{"approval_id":"apr_1","turn_id":"turn_1","tool":"food_log"}],'
        '"conversation_id":"conv_1"}',
    ),
    (TranscriptPage, f'{{"turns":[{RECORD}],"next_before":"turn_0"}}'),
]


# Fields added since, optional, that a payload an older worker wrote decodes with (their
# default) and that encode last: an older gateway ignores them (services/common/sessions.py).
ADDED_SINCE: dict[type[Any], str] = {TurnReceipt: ',"submitted_at":null'}


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


@pytest.mark.parametrize(
    ("kind", "text"), DATACLASS_PAYLOADS, ids=lambda v: getattr(v, "__name__", "")
)
def test_a_dataclass_payload_decodes_and_encodes_to_the_same_json(
    kind: type[Any], text: str
) -> None:
    converter = DATA_CONVERTER.payload_converter
    [value] = converter.from_payloads([payload(text)], [kind])
    assert isinstance(value, kind)
    expected = text[:-1] + ADDED_SINCE.get(kind, "") + text[-1]
    assert converter.to_payloads([value])[0].data.decode() == expected


def test_a_decoded_record_is_typed_all_the_way_down() -> None:
    [status] = DATA_CONVERTER.payload_converter.from_payloads(
        [payload(DATACLASS_PAYLOADS[3][1])], [SessionStatus]
    )
    record = status.turns[0]
    assert record.usage == TurnUsage(prompt_tokens=5, completion_tokens=7, total_tokens=12)
    assert record.error == TurnError(code="model_unavailable", message="the model did not answer")
    assert record.tool_calls[0].arguments == '{"food": "egg"}'
    assert status.conversation_id == "conv_1"


def test_an_older_record_decodes_with_defaults_and_a_newer_ones_extra_fields_are_ignored() -> None:
    older = '{"turn_id":"turn_1","status":"completed","submitted_at":"x","output":"hi"}'
    [record] = DATA_CONVERTER.payload_converter.from_payloads([payload(older)], [TurnRecord])
    assert (record.input, record.tool_calls, record.steps) == ("", [], 0)
    newer = '{"turn_id":"turn_1","status":"completed","submitted_at":"x","mood":"glad"}'
    [record] = DATA_CONVERTER.payload_converter.from_payloads([payload(newer)], [TurnRecord])
    assert "mood" not in record.model_dump()


def test_a_carry_written_with_dataclass_records_continues_the_session() -> None:
    carried = {"created_at": "2026-12-02T07:00:00+00:00", "records": [json.loads(RECORD)]}
    carry = CARRY.validate_python(carried)
    assert isinstance(carry.records[0], TurnRecord)
    assert CARRY.dump_python(carry, mode="json")["records"] == carried["records"]


def test_events_tell_usage_and_errors_with_the_records_models() -> None:
    completed = events.TurnCompleted.model_fields["usage"].annotation
    failed = events.TurnFailed.model_fields["error"].annotation
    assert (completed, failed) == (TurnUsage, TurnError)
