"""A lean HTTP/1.1 client for sending turns and reading their streams, for the load sections.

The load generator shares the two cores with the platform it measures. Read through httpx, a
turn's ~100 SSE events cost the benchmark's own process ~280 ms of CPU (more than the whole
platform spends on the turn), so the platform's figures would measure the client. This one is a
raw asyncio protocol, as the viewers are (scripts/bench/viewers.py): one connection per turn,
chunked transfer decoded by hand, each SSE frame split into its fields. A 429 or 503 is retried
after its `Retry-After` with the same `Idempotency-Key`, as the README asks of clients: the turn
waits, it does not fail (the waits are counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import cast

import orjson

from scripts.bench.common import SseEvent, StreamedTurn
from scripts.sse import TERMINAL_TURN_EVENTS as TERMINAL

RETRY_STATUSES = (429, 503)
MAX_RETRIES = 60


class _Chunked:
    """Decodes a chunked body incrementally; yields what each call completes."""

    def __init__(self) -> None:
        self.buffer = b""
        self.remaining = 0  # bytes left in the current chunk
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        out = bytearray()
        while self.buffer and not self.done:
            if self.remaining:
                take = self.buffer[: self.remaining]
                out += take
                self.remaining -= len(take)
                self.buffer = self.buffer[len(take) :]
                continue
            line, sep, rest = self.buffer.partition(b"\r\n")
            if not sep:
                break
            if not line:  # the CRLF that ends a chunk
                self.buffer = rest
                continue
            size = int(line.split(b";", 1)[0], 16)
            self.buffer = rest
            if size == 0:
                self.done = True
            self.remaining = size
        return bytes(out)


@dataclass
class _Exchange:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _TurnProtocol(asyncio.Protocol):
    def __init__(self, request: bytes, turn: StreamedTurn) -> None:
        self.request = request
        self.turn = turn
        self.exchange = _Exchange()
        self.head = b""
        self.body: _Chunked | None = None
        self.plain = b""
        self.frames = b""
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            if exc is not None:
                self.finished.set_exception(exc)
            else:
                self.finished.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.exchange.status == 0:
            self.head += data
            head, sep, rest = self.head.partition(b"\r\n\r\n")
            if not sep:
                return
            self._read_head(head)
            data = rest
        if self.body is not None:
            data = self.body.feed(data)
        if self.exchange.status != 200:
            self.plain += data
            if self.body is not None and self.body.done:
                self._close()
            return
        self._read_frames(data)

    def _read_head(self, head: bytes) -> None:
        status_line, *lines = head.decode("latin-1").split("\r\n")
        self.exchange.status = int(status_line.split(" ", 2)[1])
        self.turn.status = self.exchange.status
        self.turn.headers_at = time.perf_counter()
        for line in lines:
            name, _, value = line.partition(":")
            self.exchange.headers[name.strip().lower()] = value.strip()
        if self.exchange.headers.get("transfer-encoding", "").lower() == "chunked":
            self.body = _Chunked()

    def _read_frames(self, data: bytes) -> None:
        self.frames += data
        *frames, self.frames = self.frames.replace(b"\r\n", b"\n").split(b"\n\n")
        for frame in frames:
            event_id, event_type, payload = None, "message", b""
            for line in frame.split(b"\n"):
                if line.startswith(b"data:"):
                    payload = line[5:].lstrip()
                elif line.startswith(b"event:"):
                    event_type = line[6:].strip().decode()
                elif line.startswith(b"id:"):
                    event_id = line[3:].strip().decode()
            if not payload:
                continue  # a ping
            event = SseEvent(
                event_id, event_type, orjson.loads(payload), time.perf_counter(), time.time()
            )
            self.turn.events.append(event)
            if event_type in TERMINAL:
                if event_type != "turn.completed":
                    self.turn.error = f"{event_type}: {event.data.get('error')}"
                self._close()
                return

    def _close(self) -> None:
        self.exchange.body = self.plain
        if self.transport is not None:
            self.transport.close()
        if not self.finished.done():
            self.finished.set_result(None)


class RawGateway:
    """Sends a message and reads its stream to the turn's end, on a fresh connection."""

    def __init__(self, base_url: str, api_key: str) -> None:
        hostport = base_url.removeprefix("http://").rstrip("/")
        host, _, port = hostport.partition(":")
        self.host, self.port = host, int(port or 80)
        self.api_key = api_key
        self.retries = 0  # 429/503 answers waited out, over every turn

    def _request(self, sid: str, text: str, key: str) -> bytes:
        body = orjson.dumps({"input": text})
        head = (
            f"POST /v1/sessions/{sid}/messages HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.api_key}\r\n"
            "Accept: text/event-stream\r\n"
            "Content-Type: application/json\r\n"
            f"Idempotency-Key: {key}\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode() + body

    async def stream_turn(self, sid: str, text: str, *, timeout_s: float = 600.0) -> StreamedTurn:
        """POST the message (retrying 429/503 with the same key) and read to the turn's end."""
        key = uuid.uuid4().hex
        turn = StreamedTurn(started=time.perf_counter())
        loop = asyncio.get_running_loop()
        request = self._request(sid, text, key)
        try:
            async with asyncio.timeout(timeout_s):
                for _ in range(MAX_RETRIES):
                    turn.events.clear()
                    turn.error = None
                    _, protocol = await loop.create_connection(
                        lambda: _TurnProtocol(request, turn), self.host, self.port
                    )
                    with contextlib.suppress(ConnectionError):
                        await protocol.finished
                    exchange = protocol.exchange
                    if exchange.status in RETRY_STATUSES:
                        self.retries += 1
                        await asyncio.sleep(float(exchange.headers.get("retry-after", "1")))
                        continue
                    if exchange.status != 200:
                        turn.error = f"HTTP {exchange.status}: {exchange.body[:200]!r}"
                    elif not turn.completed and turn.error is None:
                        turn.error = "the stream ended before the turn did"
                    return turn
                turn.error = f"still refused after {MAX_RETRIES} tries"
        except (OSError, TimeoutError) as exc:
            turn.error = f"{type(exc).__name__}: {exc}"
        return turn
