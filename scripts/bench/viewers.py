"""`python -m scripts.bench.viewers`: N lean SSE viewers of one session, in one process.

Each viewer is a raw asyncio protocol on its own connection, on uvloop (no HTTP client library, so
the viewers cost the machine as little as they can: they share it with the gateway), reading `GET
/v1/sessions/{sid}/events`. It prints `ready` once every viewer's response has started (the gateway
subscribes before it answers, so from then on nothing is missed), then stamps every `message.delta`
on arrival with `time.time()` and compares with the event's `ts` (set when the worker publishes it,
ms precision). It ends when every viewer has seen `--turns` `turn.completed` events (or at
`--timeout`), and prints one JSON line: the lags in ms, the deltas each viewer got, and errors.

The process runs under SCHED_BATCH (Linux): viewers stand for clients on other machines, and at
normal priority every socket write the gateway makes would wake a viewer process that preempts
it mid-broadcast, so the benchmark would measure the viewers' scheduling, not the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import sys
import time
from datetime import datetime
from typing import cast

import orjson

_TS = b'"ts":"'
_DELTA = b"\r\nevent: message.delta\r\n"
_COMPLETED = b"\r\nevent: turn.completed\r\n"


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
        self.error: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.WriteTransport, transport).write(self.request)  # uvloop's is no subclass

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
        # sse-starlette ends each frame with a blank CRLF line; a frame's data is one line of
        # JSON, which cannot hold a raw CR or LF, so these markers only match the real lines.
        *frames, self.buffer = self.buffer.split(b"\r\n\r\n")
        for frame in frames:
            if _DELTA in frame:
                self.deltas += 1
                at = frame.find(_TS)
                if at >= 0:
                    start = at + len(_TS)
                    sent = _epoch(frame[start : frame.index(b'"', start)])
                    self.lags.append((now - sent) * 1000.0)
            elif _COMPLETED in frame:
                self.turns += 1
                if self.turns >= self.turns_wanted:
                    self.finished.set()


@functools.lru_cache(maxsize=4096)
def _epoch(ts: bytes) -> float:
    """An event's `ts` as epoch seconds; every viewer of the process reads the same few."""
    return datetime.fromisoformat(ts.decode()).timestamp()


def yield_to_the_gateway() -> None:
    """Give up wake-up preemption (see the module docstring); a no-op where unsupported."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


async def main(args: argparse.Namespace) -> None:
    yield_to_the_gateway()
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
    args = parser.parse_args()
    try:
        import uvloop  # the lighter loop: the viewers should cost the machine little
    except ImportError:
        asyncio.run(main(args))
    else:
        uvloop.run(main(args))


if __name__ == "__main__":
    cli()
