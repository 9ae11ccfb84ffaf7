"""services/common/redis_client.py against real servers: TLS with a client certificate, a
password from a file, and a master found through Sentinel. A configuration that cannot work is
one line at start; a Redis that is only down is not."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scripts.stack.processes import ManagedProcess, free_port, poll
from scripts.stack.servers import redis_ping
from services.common.bus import EventBus
from services.common.events import MessageDelta
from services.common.redis_client import check_redis, describe, redis_client
from services.common.sessions import BusKey
from services.common.settings import ConfigError, RedisSettings
from tests.fixtures.tls import Pki, make_pki

REDIS = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(REDIS is None, reason="no system redis-server (TLS, Sentinel)")


def _start(name: str, argv: list[str], folder: Path, ready: Callable[[], bool]) -> ManagedProcess:
    process = ManagedProcess(name, argv, log_dir=folder).start()
    process.wait_ready(ready, timeout=15)
    return process


def _tls_ping(port: int, pki: Pki) -> bool:
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(pki.client_cert, pki.client_key)
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=0.3) as raw,
            context.wrap_socket(raw, server_hostname=pki.server_name) as sock,
        ):
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _supports_tls() -> bool:
    if REDIS is None:
        return False
    out = subprocess.run([REDIS, "--version"], capture_output=True, text=True, check=False)
    return "build=" in out.stdout  # every 6+ build; a build without TLS refuses --tls-port below


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), server_name="redis.test")


@pytest.fixture(scope="module")
def tls_redis(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if not _supports_tls():
        pytest.skip("no system redis-server with TLS")
    folder, port = tmp_path_factory.mktemp("redis-tls"), free_port()
    argv = [str(REDIS), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    argv += ["--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key)]
    argv += ["--tls-ca-cert-file", str(pki.ca), "--tls-auth-clients", "yes", "--save", ""]
    argv += ["--dir", str(folder)]
    try:
        process = _start("redis-tls", argv, folder, lambda: _tls_ping(port, pki))
    except Exception as exc:  # a redis-server built without TLS
        pytest.skip(f"redis-server cannot serve TLS here: {str(exc).splitlines()[0]}")
    yield port
    process.stop()


@pytest.fixture(scope="module")
def password_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if REDIS is None:
        pytest.skip("no system redis-server")
    folder, port = tmp_path_factory.mktemp("redis-auth"), free_port()
    argv = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)]
    process = _start("redis-auth", [*argv, "--requirepass", "s3cret-pass"], folder, lambda: True)
    assert poll(lambda: _answers(port), 15)
    yield port
    process.stop()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
            sock.sendall(b"PING\r\n")
            return bool(sock.recv(64))  # -NOAUTH is an answer
    except OSError:
        return False


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """A master and one Sentinel watching it as `agents`: (master port, Sentinel port)."""
    if REDIS is None:
        pytest.skip("no system redis-server")
    folder = tmp_path_factory.mktemp("sentinel")
    master, watcher = free_port(), free_port()
    argv = [REDIS, "--port", str(master), "--bind", "127.0.0.1", "--save", ""]
    primary = _start(
        "redis-master", [*argv, "--dir", str(folder)], folder, lambda: redis_ping(master)
    )
    config = folder / "sentinel.conf"  # Sentinel rewrites its own config file
    config.write_text(
        f"port {watcher}\nbind 127.0.0.1\ndir {folder}\n"
        f"sentinel monitor agents 127.0.0.1 {master} 1\n"
    )
    watching = _start(
        "redis-sentinel", [REDIS, str(config), "--sentinel"], folder, lambda: redis_ping(watcher)
    )
    yield master, watcher
    watching.stop()
    primary.stop()


async def _round_trip(settings: RedisSettings) -> None:
    """What every service does with Redis: publish to the log and read it back."""
    client = redis_client(settings, max_connections=4, wait_s=2)
    try:
        await check_redis(client, settings)
        bus = EventBus(client)
        event = MessageDelta(session_id="ses_redis", turn_id="turn_1", text="hi", agent="a")
        key = BusKey("t", "ses_redis")
        first = await bus.publish(key, event)
        (read,) = [e async for e in bus.read_after(key, None)]
        assert read.id == first
        await bus.delete(key)
    finally:
        await client.aclose()


@needs_redis
async def test_tls_with_a_client_certificate(tls_redis: int, pki: Pki) -> None:
    query = f"ssl_ca_certs={pki.ca}&ssl_certfile={pki.client_cert}&ssl_keyfile={pki.client_key}"
    query += "&ssl_cert_reqs=required&ssl_check_hostname=false"
    settings = RedisSettings(redis_url=f"rediss://127.0.0.1:{tls_redis}/0?{query}")
    await _round_trip(settings)
    assert describe(settings) == f"127.0.0.1:{tls_redis} (TLS)"


@needs_redis
async def test_a_ca_that_does_not_sign_the_server_stops_with_one_line(
    tls_redis: int, pki: Pki
) -> None:
    query = f"ssl_ca_certs={pki.other_ca}&ssl_certfile={pki.client_cert}"
    query += f"&ssl_keyfile={pki.client_key}&ssl_cert_reqs=required"
    settings = RedisSettings(redis_url=f"rediss://127.0.0.1:{tls_redis}/0?{query}")
    client = redis_client(settings)
    with pytest.raises(ConfigError) as caught:
        await check_redis(client, settings)
    await client.aclose()
    assert "refused TLS" in str(caught.value), caught.value
    assert "certificate verify failed" in str(caught.value), caught.value
    assert "\n" not in str(caught.value)


@needs_redis
async def test_a_password_from_a_file(password_redis: int, tmp_path: Path) -> None:
    secret = tmp_path / "redis-password"
    secret.write_text("s3cret-pass\n")
    url = f"redis://127.0.0.1:{password_redis}/0"
    await _round_trip(RedisSettings(redis_url=url, redis_password_file=secret))

    secret.write_text("wrong")
    settings = RedisSettings(redis_url=url, redis_password_file=secret)
    client = redis_client(settings)
    with pytest.raises(ConfigError, match="refused the credentials") as caught:
        await check_redis(client, settings)
    await client.aclose()
    assert "wrong" not in str(caught.value)


def test_an_unreadable_password_file_is_one_line(tmp_path: Path) -> None:
    settings = RedisSettings(redis_password_file=tmp_path / "missing")
    with pytest.raises(ConfigError, match="REDIS_PASSWORD_FILE cannot be read"):
        redis_client(settings)


@needs_redis
async def test_the_master_found_through_sentinel(sentinel: tuple[int, int]) -> None:
    master, watcher = sentinel
    settings = RedisSettings(
        redis_url="redis://ignored/0",
        redis_sentinels=f"127.0.0.1:{watcher}",
        redis_sentinel_master="agents",
    )
    await _round_trip(settings)
    client = redis_client(settings)
    try:  # the connection really is to the master
        assert int((await client.info("server"))["tcp_port"]) == master
    finally:
        await client.aclose()


def test_bad_sentinel_addresses_are_one_line() -> None:
    with pytest.raises(ConfigError, match="REDIS_SENTINELS must be host:port"):
        redis_client(RedisSettings(redis_sentinels="sentinel-without-port"))


async def test_a_redis_that_is_only_down_does_not_stop_a_service(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = RedisSettings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = redis_client(settings)
    await check_redis(client, settings)  # no raise: services outlive a Redis outage
    await client.aclose()
    assert "not answering yet" in caplog.text
