"""A TCP path to a server that a test can break: cut it, or let it go silent, then restore it.

Clients that connect to `TcpPath.port` reach the target through it. `cut()` closes every
connection and refuses new ones (a reset path); `blackhole()` keeps every connection open but
forwards nothing, new ones included (a silently dropped path: no error, no answer). `restore()`
forwards new connections again; one that went through a blackhole stays dead, as after a real one.
With `ssl`, the path is a TLS terminator in front of a plain server (an mTLS proxy when the
context asks for client certificates).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as ssl_module


class _Link:
    """One client connection and its upstream one."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.dead = False  # blackholed: read and discard, forward nothing

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


class TcpPath:
    def __init__(self, target_port: int, *, ssl: ssl_module.SSLContext | None = None) -> None:
        self.target_port = target_port
        self.ssl = ssl
        self.state = "open"
        self.port = 0
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> TcpPath:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for link in self._links:
            link.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cut(self) -> None:
        self.state = "cut"
        for link in self._links:
            link.close()
        self._links.clear()

    def blackhole(self) -> None:
        self.state = "blackhole"
        for link in self._links:
            link.dead = True

    def restore(self) -> None:
        self.state = "open"

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link()
        link.writers.append(writer)
        if self.state == "cut":
            link.close()
            return
        self._links.add(link)
        try:
            if self.state == "blackhole":
                link.dead = True
                await _pump(reader, writer, link)
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            link.writers.append(up_writer)
            await asyncio.gather(_pump(reader, up_writer, link), _pump(up_reader, writer, link))
        finally:
            link.close()
            self._links.discard(link)


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, link: _Link) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await source.read(65536):
            if not link.dead:
                sink.write(data)
                await sink.drain()
    link.close()
