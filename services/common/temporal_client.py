"""Connecting to Temporal the way Temporal's own SDKs and CLI are configured.

`temporalio.envconfig` reads `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, the
`TEMPORAL_TLS_*` files or data (client certificate and key, server CA, server name) and
`TEMPORAL_GRPC_META_*`, over a TOML profile (`TEMPORAL_PROFILE`, `TEMPORAL_CONFIG_FILE`); what
none of them sets falls back to `TemporalSettings`. So a dev server, a self-hosted cluster with
mTLS and Temporal Cloud with an API key are all environment, never code.

A connection that cannot work (a wrong CA, server name or key, nothing listening) is one line
that says which setting to look at, never a Rust traceback; the key itself is never in it.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.envconfig import ClientConfig, ClientConnectConfig
from temporalio.runtime import Runtime

from services.common.settings import ConfigError, TemporalSettings

# What the TLS stack says, and what a person should check (the variables envconfig reads).
_CAUSES = (
    ("UnknownIssuer", "the server's certificate is not signed by TEMPORAL_TLS_SERVER_CA_CERT_*"),
    (
        "NotValidForName",
        "the server's certificate does not name TEMPORAL_TLS_SERVER_NAME (or the address's host)",
    ),
    ("KeyMismatch", "TEMPORAL_TLS_CLIENT_KEY_* does not belong to TEMPORAL_TLS_CLIENT_CERT_*"),
    (
        "CertificateRequired",
        "the server wants a client certificate: set TEMPORAL_TLS_CLIENT_CERT_* and _KEY_*",
    ),
    ("BadCertificate", "the server refused the client certificate"),
    ("UnknownCA", "the server does not trust the client certificate's CA"),
    ("InvalidContentType", "the server does not speak TLS: unset TEMPORAL_TLS* and the API key"),
    ("CorruptMessage", "the server does not speak TLS: unset TEMPORAL_TLS* and the API key"),
    ("Unauthenticated", "the server refused the credentials (the API key or client certificate)"),
    ("Connection refused", "nothing listens there"),
)


# One validator per type for the whole process. Temporal gives every workflow instance a payload
# converter of its own, so the SDK's per-converter cache built every validator again for each
# new session (7% of a worker's CPU in a burst of new sessions, docs/benchmarks.md).
_validator = functools.lru_cache(maxsize=1024)(TypeAdapter)


class _PydanticJSON(PydanticJSONPlainPayloadConverter):
    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        hint: Any = type_hint if type_hint is not None else Any
        try:
            adapter: TypeAdapter[Any] = _validator(hint)
        except TypeError:  # an unhashable hint: not cached
            adapter = TypeAdapter(hint)
        return adapter.validate_json(payload.data)


class PayloadConverter(CompositePayloadConverter):
    """Temporal's default converters with JSON through pydantic (`_PydanticJSON`)."""

    def __init__(self) -> None:
        super().__init__(
            *(
                _PydanticJSON() if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


# Every payload (updates, activity inputs and results, the workflow's events) goes through
# pydantic, so the event models of services/common/events.py cross Temporal as they are and the
# dataclasses decode with cached validators instead of per-call type-hint walks. The JSON is
# the same as the default converter's, so running histories decode either way. The gateway,
# the worker and every test client must use this one.
DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)


class TemporalUnavailable(ConfigError):
    """Temporal cannot be reached with these settings; raised at start, one line."""


def connect_config(settings: TemporalSettings | None = None) -> ClientConnectConfig:
    """`Client.connect` keyword arguments from Temporal's variables and profile, over our
    defaults (`TemporalSettings`: the address and namespace when nothing else names them)."""
    settings = settings or TemporalSettings()
    try:
        config = ClientConfig.load_client_connect_config()
    except (OSError, ValueError, RuntimeError) as exc:  # a profile or file that cannot be read
        raise ConfigError(f"Temporal connection settings are invalid: {exc}") from exc
    config.setdefault("target_host", settings.address)
    config.setdefault("namespace", settings.namespace)
    return config


def describe(config: ClientConnectConfig) -> str:
    """Where a client connects, for logs and errors (never the API key or a certificate)."""
    extras = []
    if config.get("tls"):
        extras.append("TLS")
    if config.get("api_key"):
        extras.append("API key")
    how = f", {' and '.join(extras)}" if extras else ""
    return f"{config.get('target_host')} (namespace {config.get('namespace')}{how})"


def why(error: BaseException) -> str:
    """The reason a connection failed, in the words of the settings to check."""
    text = str(error)
    for token, reason in _CAUSES:
        if token in text:
            return reason
    return text.splitlines()[0] if text else type(error).__name__


async def connect_temporal(
    settings: TemporalSettings | None = None,
    *,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
) -> Client:
    """A connected client, or `TemporalUnavailable` with one line saying what to check.
    `runtime`: the SDK runtime to run on (one that exports metrics), else the default one."""
    config = connect_config(settings)
    try:
        return await Client.connect(
            **config,
            data_converter=DATA_CONVERTER,
            interceptors=list(interceptors),
            runtime=runtime,
        )
    except (RuntimeError, OSError, ValueError) as exc:
        raise TemporalUnavailable(
            f"cannot connect to Temporal at {describe(config)}: {why(exc)}"
        ) from exc


def exit_with(error: ConfigError) -> NoReturn:
    """Print `error`'s one line and leave at once, status 1.

    After a failed connection the Temporal SDK's runtime can abort the interpreter on its way
    out (status -6 seen), which would bury the line under a crash; `os._exit` skips that.
    """
    sys.stdout.flush()
    print(error, file=sys.stderr, flush=True)
    os._exit(1)
