"""Gateway settings, API keys, gunicorn config and the start command."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys

import pytest

from scripts.stack.processes import REPO_ROOT
from services.common.settings import ConfigError, load_settings
from services.gateway.__main__ import gunicorn_argv
from services.gateway.auth import ApiKeys
from services.gateway.problems import Problem
from services.gateway.settings import GatewaySettings, parse_api_keys


def test_api_keys_parse_into_key_tenant_pairs() -> None:
    assert parse_api_keys(" k1:t1 , k2:t2,") == {"k1": "t1", "k2": "t2"}
    assert parse_api_keys("with:colon:t3") == {"with:colon": "t3"}


@pytest.mark.parametrize(
    "raw", ["", "secretkey", ":tenant", "secretkey:", "secretkey:t,secretkey:u", "secretkey:a b"]
)
def test_bad_api_keys_are_rejected_without_echoing_them(raw: str) -> None:
    with pytest.raises(ValueError, match=r"entry|no API keys") as caught:
        parse_api_keys(raw)
    assert "secretkey" not in str(caught.value)


def test_missing_keys_fail_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_API_KEYS", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_settings(GatewaySettings)
    assert str(caught.value) == "configuration error: GATEWAY_API_KEYS is required but not set"


def test_invalid_keys_name_the_variable_not_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", "secret-one-without-tenant")
    with pytest.raises(ConfigError) as caught:
        load_settings(GatewaySettings)
    assert "GATEWAY_API_KEYS is invalid" in str(caught.value)
    assert "secret-one" not in str(caught.value)


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", "k:t")
    settings = load_settings(GatewaySettings)
    assert settings.gateway_rate_limit == 600
    assert settings.gateway_max_streams == 200
    assert settings.gateway_max_body_bytes == 64 * 1024
    assert settings.api_keys == {"k": "t"}
    assert settings.agents == frozenset()  # no allow-list: every team the workers serve
    assert "k:t" not in repr(settings)
    assert settings.gateway_submit_target_s == 2.0
    assert settings.gateway_submit_wait_s == 1.0
    assert (settings.gateway_submit_min_in_flight, settings.gateway_submit_max_in_flight) == (4, 64)


def test_submit_bounds_out_of_order_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", "k:t")
    monkeypatch.setenv("GATEWAY_SUBMIT_MIN_IN_FLIGHT", "8")
    monkeypatch.setenv("GATEWAY_SUBMIT_MAX_IN_FLIGHT", "4")
    with pytest.raises(ConfigError) as caught:
        load_settings(GatewaySettings)
    assert "GATEWAY_SUBMIT_MAX_IN_FLIGHT is invalid" in str(caught.value)


def test_api_key_check() -> None:
    keys = ApiKeys({"alpha": "t1", "beta": "t2"})
    assert keys.check("alpha") is not None
    assert keys.authenticate("Bearer beta").tenant_id == "t2"
    assert keys.authenticate("bearer  alpha ").tenant_id == "t1"
    for header in [None, "", "Bearer", "Bearer ", "Basic alpha", "Bearer alph", "Bearer alphaa"]:
        with pytest.raises(Problem) as caught:
            keys.authenticate(header)
        assert caught.value.status == 401
    assert keys.authenticate("Bearer alpha").key_id != keys.authenticate("Bearer beta").key_id
    assert "alpha" not in keys.authenticate("Bearer alpha").key_id


def test_dev_key_is_warned_about_without_logging_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        ApiKeys({"dev-key": "dev"}).warn_if_dev_key()
        ApiKeys({"prod": "p"}).warn_if_dev_key()
    assert len(caplog.records) == 1
    assert "dev key" in caplog.text
    assert "dev-key" not in caplog.text


def test_gunicorn_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    conf = importlib.reload(importlib.import_module("services.gateway.gunicorn_conf"))
    assert conf.workers == 3
    assert conf.worker_class == "uvicorn_worker.UvicornWorker"
    assert conf.control_socket_disable is True
    assert 0 < conf.graceful_timeout < 30
    assert conf.keepalive > 0


def test_start_command_runs_gunicorn_with_the_config() -> None:
    argv = gunicorn_argv("127.0.0.1", 8123, None)
    assert argv[1:3] == ["-m", "gunicorn"]
    assert "uvicorn_worker.UvicornWorker" in argv
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8123"
    assert argv[-1] == "services.gateway.app:app"
    assert argv[argv.index("-c") + 1].endswith("services/gateway/gunicorn_conf.py")


def test_start_without_keys_exits_with_one_line() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    result = subprocess.run(
        [sys.executable, "-m", "services.gateway", "--port", "1"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "configuration error: GATEWAY_API_KEYS is required but not set"
    ]
