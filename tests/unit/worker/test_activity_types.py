"""Function-call arguments as the object events carry (steps.json_object)."""

from __future__ import annotations

import pytest

from services.worker.activity_types import json_object


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"food": "egg", "count": 2}', {"food": "egg", "count": 2}),
        ("", {}),
        ("{}", {}),
        ("[1, 2]", {"_value": [1, 2]}),
        ("null", {"_value": None}),
        ("3", {"_value": 3}),
        ('{"food": "egg"', {"_raw": '{"food": "egg"'}),
        ("not json", {"_raw": "not json"}),
    ],
)
def test_arguments_are_an_object_or_kept_wrapped(text: str, value: object) -> None:
    assert json_object(text) == value
