"""Temporal over mTLS and with an API key, configured as Temporal's SDKs read it (envconfig).

An mTLS proxy (tcp_path.TcpPath with a TLS context that requires a client certificate) stands in
front of the dev server; clients connect through it with TEMPORAL_TLS_* variables. A wrong CA,
server name or key stops a service at start with one line saying what to check.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.common.settings import ConfigError, TemporalSettings
from services.common.temporal_client import (
    TemporalUnavailable,
    connect_config,
    connect_temporal,
    describe,
)
from tests.fixtures.tls import Pki, make_pki
from tests.integration.common.tcp_path import TcpPath

REPO = Path(__file__).resolve().parents[3]
TEMPORAL_VARIABLES = [name for name in os.environ if name.startswith("TEMPORAL_")]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
async def mtls_proxy(temporal_server: Any, pki: Pki) -> AsyncIterator[TcpPath]:
    async with TcpPath(temporal_server.port, ssl=pki.server_context()) as path:
        yield path


def mtls_env(pki: Pki, proxy: TcpPath, **changes: str) -> dict[str, str]:
    env = {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{proxy.port}",
        "TEMPORAL_NAMESPACE": "default",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.ca),
        "TEMPORAL_TLS_SERVER_NAME": pki.server_name,
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.client_cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki.client_key),
    }
    return {**env, **changes}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in TEMPORAL_VARIABLES:
        monkeypatch.delenv(name)
    # No TOML profile from the machine running the tests.
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", os.devnull)
    return monkeypatch


async def test_a_client_connects_through_mtls_from_temporals_own_variables(
    clean_env: pytest.MonkeyPatch, pki: Pki, mtls_proxy: TcpPath
) -> None:
    for name, value in mtls_env(pki, mtls_proxy).items():
        clean_env.setenv(name, value)
    client = await connect_temporal(TemporalSettings())
    info = await client.workflow_service.get_system_info(_system_info_request())
    assert info.server_version
    assert describe(connect_config()) == f"127.0.0.1:{mtls_proxy.port} (namespace default, TLS)"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "other_ca"}, "not signed by"),
        ({"TEMPORAL_TLS_SERVER_NAME": "elsewhere.test"}, "does not name"),
        ({"TEMPORAL_TLS_CLIENT_KEY_PATH": "other_key"}, "does not belong to"),
    ],
    ids=["wrong-ca", "wrong-name", "wrong-key"],
)
async def test_a_wrong_ca_name_or_key_is_one_clear_line(
    clean_env: pytest.MonkeyPatch,
    pki: Pki,
    mtls_proxy: TcpPath,
    change: dict[str, str],
    says: str,
) -> None:
    values = {k: str(getattr(pki, v, v)) for k, v in change.items()}
    for name, value in mtls_env(pki, mtls_proxy, **values).items():
        clean_env.setenv(name, value)
    with pytest.raises(TemporalUnavailable) as caught:
        await connect_temporal()
    message = str(caught.value)
    assert says in message, message
    assert message.startswith(f"cannot connect to Temporal at 127.0.0.1:{mtls_proxy.port}")
    assert "\n" not in message


async def test_tls_to_a_plain_server_and_an_api_key_never_shown(
    clean_env: pytest.MonkeyPatch, temporal_server: Any
) -> None:
    clean_env.setenv("TEMPORAL_ADDRESS", temporal_server.address)
    clean_env.setenv("TEMPORAL_API_KEY", "sk-secret-never-shown")
    config = connect_config()
    assert config["tls"] is True  # an API key turns TLS on, as Temporal Cloud needs
    with pytest.raises(TemporalUnavailable) as caught:
        await connect_temporal()
    assert "API key" in str(caught.value)
    assert "sk-secret" not in str(caught.value)


def test_an_unreadable_profile_is_a_config_error(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "temporal.toml"
    broken.write_text("[profile.default\naddress = ")
    clean_env.setenv("TEMPORAL_CONFIG_FILE", str(broken))
    with pytest.raises(ConfigError, match="Temporal connection settings are invalid"):
        connect_config()


def test_our_defaults_fill_what_temporals_variables_leave_out(
    clean_env: pytest.MonkeyPatch,
) -> None:
    config = connect_config(TemporalSettings(address="temporal:7233", namespace="agents"))
    assert config == {"target_host": "temporal:7233", "namespace": "agents"}


@pytest.mark.parametrize("service", ["services.worker", "services.gateway"])
async def test_a_service_with_a_wrong_ca_stops_at_start_with_one_line(
    pki: Pki, mtls_proxy: TcpPath, service: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env |= mtls_env(pki, mtls_proxy, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(pki.other_ca))
    env |= {
        "TEMPORAL_CONFIG_FILE": os.devnull,
        "GATEWAY_API_KEYS": "test-key:test",
        "MCP_AUTH_TOKEN": "test-token-of-sixteen-chars",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "TRACING": "off",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        service,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert "Traceback" not in stderr.decode()
    assert "cannot connect to Temporal at" in lines[-1], lines
    assert "not signed by" in lines[-1]


def _system_info_request() -> Any:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    return GetSystemInfoRequest()
