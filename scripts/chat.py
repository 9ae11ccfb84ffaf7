"""`python -m scripts.chat` (`make chat`): talk to the NutriSense agents through the gateway.

Each line you type is one turn: sent with `Accept: text/event-stream`, the answer is printed as
it streams. When the connection drops mid-turn, the client reconnects to the session's event
stream with `Last-Event-ID` and carries on where it stopped (no gap, nothing twice); a message
whose answer never started is resent with the same Idempotency-Key, so it is never run twice.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx2

from scripts.sse import TERMINAL_TURN_EVENTS as TERMINAL
from scripts.sse import read_events
from services.gateway.settings import DEV_API_KEY


class ChatError(Exception):
    """The gateway refused the request (a problem+json answer)."""


class Unavailable(ChatError):
    """A 503 (Temporal or Redis down or slow) or a 429 (the platform at capacity, or a limit of
    this key or session). Sent again with the same Idempotency-Key, after the `Retry-After` the
    gateway gave, the message runs at most once whether or not the first try was queued."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


RETRYABLE = (httpx2.TransportError, httpx2.RemoteProtocolError, Unavailable)


def retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (the gateway sends seconds), capped so the chat stays alive."""
    try:
        return min(max(float(value), 0.0), 60.0) if value else None
    except ValueError:
        return None


@dataclass
class Frame:
    id: str | None
    event: str
    data: dict[str, Any]


def parse_sse(lines: Iterator[str]) -> Iterator[Frame]:
    for raw in read_events(lines):
        yield Frame(raw.id, raw.event, raw.json())


@dataclass
class Turn:
    """What one turn's stream has shown so far: enough to resume it."""

    turn_id: str | None = None
    last_id: str | None = None
    done: bool = False
    resumes: int = 0
    pending_approvals: list[str] = field(default_factory=list)


class ChatClient:
    def __init__(self, url: str, key: str, session: str, out: TextIO = sys.stdout) -> None:
        self.http = httpx2.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx2.Timeout(10, read=60),
        )
        self.session = session
        self.out = out

    def send(self, text: str, *, retries: int = 8) -> Turn:
        """One turn, streamed to the terminal, resumed across dropped connections."""
        turn = Turn()
        key = uuid.uuid4().hex
        for attempt in range(retries + 1):
            try:
                if turn.turn_id is None:
                    self._post(text, key, turn)
                else:
                    self._resume(turn)
                if turn.done:
                    return turn
            except RETRYABLE as exc:
                if attempt == retries:
                    raise
                pause = min(0.2 * 2**attempt, 3.0)
                if isinstance(exc, Unavailable):
                    pause = exc.retry_after if exc.retry_after is not None else pause
                    self._note(f"the gateway answered {exc}; sending again in {pause:g} s")
                else:
                    self._note(f"connection lost ({type(exc).__name__}); resuming")
            else:
                pause = min(0.2 * 2**attempt, 3.0)
            turn.resumes += 1
            time.sleep(pause)
        return turn

    def _post(self, text: str, key: str, turn: Turn) -> None:
        headers = {"Accept": "text/event-stream", "Idempotency-Key": key}
        body = {"input": text, "on_busy": "enqueue"}
        url = f"/v1/sessions/{self.session}/messages"
        with self.http.stream("POST", url, json=body, headers=headers) as response:
            self._check(response)
            turn.turn_id = response.headers.get("x-turn-id")
            self._relay(response, turn)

    def _resume(self, turn: Turn) -> None:
        headers = {"Accept": "text/event-stream"}
        if turn.last_id is not None:
            headers["Last-Event-ID"] = turn.last_id
        url = f"/v1/sessions/{self.session}/events"
        params = {"turn_id": turn.turn_id or ""}
        with self.http.stream("GET", url, params=params, headers=headers) as response:
            self._check(response)
            self._relay(response, turn)

    def _check(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            response.read()
            try:
                problem = response.json()
                detail = problem.get("detail") or problem.get("title")
            except ValueError:
                detail = response.text
            message = f"{response.status_code}: {detail}"
            if response.status_code in (429, 503):
                raise Unavailable(message, retry_after(response.headers.get("retry-after")))
            raise ChatError(message)

    def _relay(self, response: httpx2.Response, turn: Turn) -> None:
        for frame in parse_sse(response.iter_lines()):
            turn.last_id = frame.id or turn.last_id
            self._show(frame)
            if frame.event == "approval.required":
                self._ask_approval(frame.data)
            if frame.event in TERMINAL and frame.data.get("turn_id") == turn.turn_id:
                turn.done = True
                return
            if frame.event == "session.ended":
                turn.done = True
                return

    def _show(self, frame: Frame) -> None:
        data = frame.data
        if frame.event == "message.delta":
            self.out.write(data.get("text", ""))
        elif frame.event == "agent.handoff":
            self._note(f"handoff to {data.get('to_agent')}")
        elif frame.event == "tool.call":
            self._note(f"tool {data.get('name')}")
        elif frame.event == "turn.retry":
            self._note("the step is being retried; what follows replaces it")
        elif frame.event == "conversation.reset":
            self._note("the model had lost this conversation; a new one goes on from the turns")
        elif frame.event == "turn.failed":
            self._note(f"failed: {data.get('error', {}).get('message')}")
        elif frame.event == "turn.cancelled":
            self._note("cancelled")
        elif frame.event == "stream.gap":
            self._note("some events were lost from the log; see GET /v1/sessions/{sid}")
        elif frame.event == "turn.completed":
            self.out.write("\n")
        self.out.flush()

    def _ask_approval(self, data: dict[str, Any]) -> None:
        approval_id = data.get("approval_id", "")
        self._note(f"the agent wants to run {data.get('name')} {data.get('arguments', {})}")
        self.out.write("approve? [y/N] ")
        self.out.flush()
        answer = sys.stdin.readline().strip().lower()
        body = {"approve": answer in ("y", "yes")}
        self.http.post(f"/v1/sessions/{self.session}/approvals/{approval_id}", json=body)

    def _note(self, text: str) -> None:
        self.out.write(f"\n[{text}]\n")
        self.out.flush()

    def close(self) -> None:
        self.http.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.chat", description=__doc__)
    default_url = f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8000')}"
    parser.add_argument("--url", default=os.environ.get("GATEWAY_URL", default_url))
    parser.add_argument("--key", default=os.environ.get("GATEWAY_API_KEY", DEV_API_KEY))
    parser.add_argument("--session", default=None, help="continue this session (default: new)")
    args = parser.parse_args(argv)
    session = args.session or f"chat-{uuid.uuid4().hex[:12]}"
    client = ChatClient(args.url, args.key, session)
    interactive = sys.stdin.isatty()
    print(f"session {session} at {args.url} (Ctrl-D to leave)", file=sys.stderr)
    try:
        while True:
            if interactive:
                print("you> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                return 0
            if not line.strip():
                continue
            if interactive:
                print("nutrisense> ", end="", flush=True)
            try:
                client.send(line.strip())
            except ChatError as exc:
                print(f"[{exc}]", file=sys.stderr)
            except RETRYABLE as exc:
                print(f"[the gateway is unreachable: {exc}]", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        return 130
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
