"""`python -m scripts.bench.viewers`: N lean SSE viewers of one session, in one process.

Each viewer is a raw asyncio protocol on its own connection (no HTTP client library, so the
viewers cost the machine as little as they can), reading `GET /v1/sessions/{sid}/events`. It
prints `ready` once every viewer's response has started (the gateway subscribes before it answers,
so from then on nothing is missed), then stamps every `message.delta` on arrival with
`time.time()` and compares with the event's `ts` (set when the worker publishes it, ms precision).
It ends when every viewer has seen `--turns` `turn.completed` events (or at `--timeout`), and
prints one JSON line: the lags in ms, the deltas each viewer got, and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime

import orjson

_TS = b'"ts":"'


class Viewer(asyncio.Protocol):
    def __init__(self, request: bytes, lags: list[float], done: asyncio.Event, turns: int) -> None:
        self.request = request
        self.lags = lags
        self.turns_wanted = turns
        self.turns = 0
        self.deltas = 0
        self.started = asyncio.get_running_loop().create_future()
        self.finished = done
        self.buffer = b""
        self.headers_done = False
        self.event = b""
        self.data = b""
        self.error: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.turns < self.turns_wanted and self.error is None:
            self.error = f"connection lost after {self.turns} turns: {exc}"
        if not self.started.done():
            self.started.set_exception(ConnectionError(self.error or "closed"))
        self.finished.set()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.headers_done:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            status = head.split(b" ", 2)[1]
            if status != b"200":
                self.error = f"HTTP {status.decode()}"
                self.started.set_exception(ConnectionError(self.error))
                return
            self.headers_done = True
            self.started.set_result(None)
            self.buffer = rest
        *lines, self.buffer = self.buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line:
                if self.event:
                    self._event(now)
                self.event, self.data = b"", b""
            elif line.startswith(b"event:"):
                self.event = line[6:].strip()
            elif line.startswith(b"data:"):
                self.data = line[5:].strip()

    def _event(self, now: float) -> None:
        if self.event == b"message.delta":
            self.deltas += 1
            at = self.data.find(_TS)
            if at >= 0:
                start = at + len(_TS)
                ts = self.data[start : self.data.index(b'"', start)].decode()
                self.lags.append((now - datetime.fromisoformat(ts).timestamp()) * 1000.0)
        elif self.event == b"turn.completed":
            self.turns += 1
            if self.turns >= self.turns_wanted:
                self.finished.set()


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    request = (
        f"GET /v1/sessions/{args.sid}/events HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
        f"Authorization: Bearer {args.key}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    lags: list[float] = []
    viewers: list[Viewer] = []
    transports: list[asyncio.BaseTransport] = []
    events: list[asyncio.Event] = []
    errors: list[str] = []
    for _ in range(args.count):
        done = asyncio.Event()
        viewer = Viewer(request, lags, done, args.turns)
        try:
            made = await loop.create_connection(lambda v=viewer: v, args.host, args.port)  # type: ignore[misc]
        except OSError as exc:
            errors.append(f"connect: {exc}")
            continue
        transports.append(made[0])
        viewers.append(viewer)
        events.append(done)
    for viewer in viewers:
        try:
            await asyncio.wait_for(viewer.started, 60)
        except (ConnectionError, TimeoutError) as exc:
            errors.append(f"start: {exc}")
    print("ready", flush=True)
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), args.timeout)
    except TimeoutError:
        errors.append("timed out waiting for the turns' ends")
    for transport in transports:
        transport.close()
    errors += [v.error for v in viewers if v.error]
    result = {
        "viewers": len(viewers),
        "lags_ms": [round(lag, 2) for lag in lags],
        "deltas": [v.deltas for v in viewers],
        "turns": [v.turns for v in viewers],
        "errors": errors,
    }
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.viewers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--sid", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--turns", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=300)
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
