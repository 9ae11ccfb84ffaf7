"""`python -m scripts.chat` against the gateway, through a proxy that drops a connection."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from scripts.stack.processes import REPO_ROOT
from tests.fixtures.gateway import GatewayServer


class DroppingProxy:
    """Forwards TCP to the gateway; the first response carrying turn events is cut short."""

    def __init__(self, target: str, cut_after_deltas: int) -> None:
        parts = urlsplit(target)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cut_after = cut_after_deltas
        self.cuts = 0
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> DroppingProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        upstream = asyncio.create_task(self._pipe(reader, up_writer))
        try:
            await self._pipe_down(up_reader, writer)
        finally:
            upstream.cancel()
            for w in (writer, up_writer):
                w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()

    async def _pipe_down(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        deltas = 0
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                deltas += data.count(b"event: message.delta")
                writer.write(data)
                await writer.drain()
                if self.cuts == 0 and deltas >= self.cut_after:
                    self.cuts += 1
                    writer.transport.abort()  # the connection drops mid-turn
                    return


@pytest.fixture
async def proxy(gateway_server: GatewayServer) -> AsyncIterator[DroppingProxy]:
    async with DroppingProxy(gateway_server.url, cut_after_deltas=5) as running:
        yield running


async def run_chat(url: str, key: str, session: str, lines: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scripts.chat",
        "--url",
        url,
        "--key",
        key,
        "--session",
        session,
        cwd=REPO_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(lines.encode()), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_chat_streams_a_conversation(gateway_server: GatewayServer) -> None:
    session = f"chat-{uuid.uuid4().hex[:8]}"
    code, out, _ = await run_chat(
        gateway_server.url, gateway_server.keys["dev"], session, "hello there\n\nhow much protein\n"
    )
    assert code == 0
    assert out.splitlines() == [
        "NutriSense (fake) heard: hello there",
        "NutriSense (fake) heard: how much protein",
    ]


async def test_chat_resumes_after_a_dropped_connection(
    gateway_server: GatewayServer, proxy: DroppingProxy
) -> None:
    session = f"chat-{uuid.uuid4().hex[:8]}"
    code, out, err = await run_chat(proxy.url, gateway_server.keys["dev"], session, "slow\n")
    assert code == 0, err
    assert proxy.cuts == 1
    notes = [line for line in out.splitlines() if line.startswith("[")]
    assert len(notes) == 1
    assert notes[0].startswith("[connection lost")
    # Every word exactly once, in order, across the two connections.
    text = "".join(line for line in out.splitlines() if not line.startswith("["))
    assert text == " ".join(f"w{n}" for n in range(40))
