from __future__ import annotations

import pytest
from pydantic import Field

from services.common.settings import (
    ConfigError,
    ServiceSettings,
    TemporalSettings,
    load_settings,
)


class NeedsKey(ServiceSettings):
    gateway_api_keys: str
    port: int = Field(default=8000, gt=0)


def test_temporal_settings_use_temporals_own_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "agents")
    settings = load_settings(TemporalSettings)
    assert (settings.address, settings.namespace) == ("temporal:7233", "agents")


def test_missing_required_setting_fails_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GATEWAY_API_KEYS", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_settings(NeedsKey)
    message = str(caught.value)
    assert message == "configuration error: GATEWAY_API_KEYS is required but not set"
    assert "\n" not in message
    assert isinstance(caught.value, SystemExit)


def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", "k:t")
    monkeypatch.setenv("PORT", "-1")
    with pytest.raises(ConfigError, match="PORT is invalid"):
        load_settings(NeedsKey)
