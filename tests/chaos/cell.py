"""One cell of the fault matrix: a fresh session and user, a turn hit by one fault in one phase,
then the five properties of issue 12 checked and recorded.

1. The turn ends `turn.completed` or a clean `turn.failed` (an error code and message) within a
   deadline, and the session's record agrees.
2. The session's next turn completes.
3. No user input twice in any Mistral conversation the cell made (the simulator's history).
4. No tool side effect twice: no food twice in the user's diary (the MCP server's SQLite store).
5. A viewer resuming with Last-Event-ID from the moment of the fault gets every later event once,
   ending with the terminal event (`stream.gap` first where the log was lost); the client that
   followed the turn through the fault (reconnecting with Last-Event-ID) got each event once.

The client here is what a user's app would be: it POSTs with an Idempotency-Key (so it can retry
the POST), follows the turn over SSE, reconnects with Last-Event-ID when a stream breaks, and
approves food_log when asked. Every wait is bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from scripts.sse import TERMINAL_TURN_EVENTS as TERMINAL
from scripts.stack.processes import poll
from tests.chaos.matrix import CellResult, Fault, Phase, Status
from tests.chaos.stack import WORKERS, ChaosStack
from tests.e2e.client import Api, SseEvent, sse_events

FIRST_INPUT = "I had 2 eggs for breakfast."
FIRST_FOOD = "egg"
NEXT_INPUT = "I had a banana for lunch."
NEXT_FOOD = "banana"

TURN_DEADLINE_S = 25.0
SLOW_DEADLINE_S = {"temporal-restart": 60.0, "mcp-down-at-start": 60.0}
NEXT_TURN_DEADLINE_S = 20.0
RESUME_DEADLINE_S = 10.0
RECONNECT_EVERY_S = 0.2

MISTRAL_FAULTS: dict[str, dict[str, Any]] = {
    "mistral-429": {"kind": "status", "status": 429, "retry_after_s": 1, "times": 2},
    "mistral-503": {"kind": "status", "status": 503, "times": 2},
    "mistral-500": {"kind": "status", "status": 500, "times": 2},
    "mistral-drop": {"kind": "disconnect", "after_events": 0, "times": 1},
}


# The faults that take the bus away: events published meanwhile may never reach the log, and a
# `stream.gap` in their place is the honest answer.
BUS_FAULTS = frozenset({"redis-restart", "redis-pause"})

# "MCP down when a session starts": how long after the first turn is sent MCP comes back.
MCP_DOWN_S = 10.0

# How long a killed server stays down before it is started again: `make dev` restarts at once,
# but a real server takes seconds to come back (a container's start, a database's recovery).
DOWN_S = {"redis": 2.0, "temporal": 3.0}
# How long the "Redis paused" fault freezes Redis (SIGSTOP .. SIGCONT): the fault itself, not a
# wait for a condition.
PAUSE_S = 5.0


def event_key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass
class Followed:
    """What one client saw of one turn, across its reconnects."""

    turn_id: str | None = None
    events: list[SseEvent] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    duplicates: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def terminal(self) -> SseEvent | None:
        ends = [e for e in self.events if e.event in TERMINAL]
        return ends[-1] if ends else None

    def add(self, event: SseEvent) -> bool:
        """Keep a new event; False (and noted) for one seen before."""
        if event.id is not None:
            if event.id in self.ids:
                self.duplicates.append(f"{event.event} {event.id}")
                return False
            last = next((e.id for e in reversed(self.events) if e.id), None)
            if last is not None and event_key(event.id) <= event_key(last):
                self.out_of_order.append(f"{event.event} {event.id} after {last}")
            self.ids.add(event.id)
        self.events.append(event)
        return True

    def summary(self, last: int = 6) -> str:
        return ", ".join(e.event for e in self.events[-last:]) or "no event"


@dataclass
class CellRun:
    stack: ChaosStack
    api: Api
    fault: Fault
    phase: Phase
    user_id: str = field(default_factory=lambda: f"chaos-{uuid.uuid4().hex[:10]}")
    sid: str = ""
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fault_task: asyncio.Task[None] | None = None
    fault_at: str | None = None  # the id of the event the fault landed after
    fault_error: str | None = None
    # How many events the following client had when the fault landed (0: before the turn).
    fault_index: int = 0
    completed: int = 0  # turns of this cell that ended turn.completed
    logged_ok: set[str] = field(default_factory=set)  # foods a food_log said it logged
    approvals: set[str] = field(default_factory=set)
    background: list[asyncio.Task[None]] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)

    def log(self, what: str) -> None:
        """A timeline on stdout: pytest shows it with a failed cell (and with -s)."""
        print(f"[{self.fault.key}/{self.phase.key} +{time.monotonic() - self.t0:5.1f}s] {what}")

    # -- the cell --------------------------------------------------------------------------

    async def run(self) -> CellResult:
        started = time.monotonic()
        try:
            await self._run()
        finally:
            for task in self.background:
                task.cancel()
            for task in self.background:
                with contextlib.suppress(BaseException):
                    await task
        status: Status = "fail" if self.reasons else "pass"
        return CellResult(
            self.fault.key,
            self.phase.key,
            status,
            self.reasons,
            time.monotonic() - started,
            self.notes,
        )

    async def _run(self) -> None:
        before = await self._conversations()
        deadline = SLOW_DEADLINE_S.get(self.fault.key, TURN_DEADLINE_S)
        if self.fault.key == "mcp-down-at-start":
            self.fault_at = "0"
            await asyncio.to_thread(self.stack.kill, "mcp")
        self.sid = await self.api.create_session(user_id=self.user_id)
        self.log(f"session {self.sid} user {self.user_id}")
        if self._armed_before_turn():
            self.fault_at = "0"
            self.fault_task = asyncio.create_task(self._inject())
            await self.fault_task
        first_over = asyncio.Event()
        if self.fault.key == "mcp-down-at-start":
            self.fault_task = asyncio.create_task(self._mcp_back(first_over))
        try:
            first = await self.follow(FIRST_INPUT, deadline, on_event=self._on_first_turn_event)
        finally:
            first_over.set()
        self.log(f"first turn {first.turn_id}: {first.summary(3)}; reconnects {first.reconnects}")
        await self._wait_fault()
        ended = self.check_turn_ended(first, deadline)
        self.note_tool_results(first, FIRST_FOOD)
        if ended:
            await self.check_record(first)
        if self.fault_at is None and self.fault_error is None:
            self.reasons.append(
                f"the phase never came, the fault was not injected ({first.summary()})"
            )
        if ended:
            await self.check_resume(first)
            nxt = await self.follow(NEXT_INPUT, NEXT_TURN_DEADLINE_S, on_event=self._auto_approve)
            self.note_tool_results(nxt, NEXT_FOOD)
            end = nxt.terminal
            self.completed += end is not None and end.event == "turn.completed"
            self.log(f"next turn {nxt.turn_id}: {nxt.summary(3)}")
            if end is None or end.event != "turn.completed":
                got = (
                    f"{end.event} {end.data.get('error')}" if end else f"nothing ({nxt.summary()})"
                )
                self.reasons.append(f"next turn: {got} within {NEXT_TURN_DEADLINE_S:.0f} s")
        else:
            self.reasons.append("next turn: not sent (the first turn never ended)")
        await self.check_conversations(before)
        self.check_side_effects()

    # -- following a turn ------------------------------------------------------------------

    async def follow(
        self,
        text: str,
        within: float,
        on_event: Callable[[Followed, SseEvent], Awaitable[None]],
    ) -> Followed:
        """Send `text` and follow its turn to the end (or the deadline), reconnecting."""
        seen = Followed()
        deadline = time.monotonic() + within
        key = f"chaos-{uuid.uuid4().hex}"
        while time.monotonic() < deadline and (seen.terminal is None):
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    await self._read_once(text, key, seen, on_event)
            except TimeoutError:
                break
            except (httpx2.HTTPError, OSError, ValueError) as exc:
                seen.errors.append(type(exc).__name__)
            if seen.terminal is None and time.monotonic() < deadline:
                seen.reconnects += 1
                await asyncio.sleep(RECONNECT_EVERY_S)  # a client's reconnect back-off
        return seen

    async def _read_once(
        self,
        text: str,
        key: str,
        seen: Followed,
        on_event: Callable[[Followed, SseEvent], Awaitable[None]],
    ) -> None:
        if seen.turn_id is None:
            # The POST again with the same key until its turn is known: it runs once.
            request = self.api.http.stream(
                "POST",
                f"/v1/sessions/{self.sid}/messages",
                json={"input": text},
                headers={"Accept": "text/event-stream", "Idempotency-Key": key},
            )
        else:
            last = next((e.id for e in reversed(seen.events) if e.id), None)
            headers = {"Last-Event-ID": last} if last else {}
            params = {"turn_id": seen.turn_id} | ({} if last else {"after": "0"})
            request = self.api.http.stream(
                "GET", f"/v1/sessions/{self.sid}/events", params=params, headers=headers
            )
        async with request as response:
            if response.status_code != 200:
                body = (await response.aread()).decode(errors="replace")[:200]
                seen.errors.append(f"HTTP {response.status_code} {body}")
                return
            seen.turn_id = seen.turn_id or response.headers.get("x-turn-id")
            async for event in sse_events(response):
                turn = event.data.get("turn_id")
                if turn is not None and turn != seen.turn_id:
                    continue
                if seen.add(event):
                    previous = seen.events[-2].event if len(seen.events) > 1 else ""
                    if event.event != "message.delta" or previous != "message.delta":
                        self.log(f"  {event.event} {event.id}")
                    await on_event(seen, event)
                if event.event in TERMINAL:
                    return

    # -- phases, faults, approvals ---------------------------------------------------------

    def _armed_before_turn(self) -> bool:
        """Mistral faults "before the first token" are queued before the turn is sent."""
        return self.fault.key.startswith("mistral-") and self.phase.key == "before-first-token"

    def _trigger(self) -> str | None:
        if self.fault.key == "mcp-down-at-start" or self._armed_before_turn():
            return None
        if self.fault.key.startswith("mistral-"):
            # Queued once the tool is approved: the next Mistral request is then the step that
            # carries the tool result, which streams the reply ("mid-stream": cut after 3 events).
            return "approval.resolved"
        return self.phase.trigger

    async def _on_first_turn_event(self, seen: Followed, event: SseEvent) -> None:
        trigger = self._trigger()
        hit = (
            trigger == event.event
            and self.fault_task is None
            and (event.event != "approval.resolved" or bool(event.data.get("approved")))
        )
        if event.event == "approval.required" and not (
            hit and self.phase.key == "awaiting-approval"
        ):
            self._approve_later(str(event.data["approval_id"]))
        if hit:
            self.fault_at = event.id
            self.fault_index = len(seen.events)
            self.fault_task = asyncio.create_task(self._inject(event))

    async def _auto_approve(self, seen: Followed, event: SseEvent) -> None:
        if event.event == "approval.required":
            self._approve_later(str(event.data["approval_id"]))

    def _approve_later(self, approval_id: str) -> None:
        if approval_id not in self.approvals:
            self.approvals.add(approval_id)
            self.background.append(asyncio.create_task(self._approve(approval_id)))

    async def _approve(self, approval_id: str, within: float = 30.0) -> None:
        """POST the approval until the gateway takes it (it may be down or restarting)."""
        deadline = time.monotonic() + within
        last = ""
        while time.monotonic() < deadline:
            try:
                response = await self.api.http.post(
                    f"/v1/sessions/{self.sid}/approvals/{approval_id}",
                    json={"approve": True},
                    timeout=5,
                )
            except (httpx2.HTTPError, OSError) as exc:
                last = type(exc).__name__
            else:
                if response.status_code < 500:
                    return  # 204; a 4xx: decided already (an earlier try got through) or gone
                last = f"HTTP {response.status_code}"
            await asyncio.sleep(RECONNECT_EVERY_S)
        self.reasons.append(f"approval {approval_id} not accepted in {within:.0f} s ({last})")

    async def _inject(self, event: SseEvent | None = None) -> None:
        try:
            await self._do_inject()
        except Exception as exc:  # a fault that could not be staged is the harness's failure
            self.fault_error = f"{type(exc).__name__}: {exc}"
            self.reasons.append(f"harness: the fault failed: {self.fault_error}")
        if self.phase.key == "awaiting-approval" and event is not None:
            await self._approve(str(event.data["approval_id"]))

    async def _do_inject(self) -> None:
        key, stack = self.fault.key, self.stack
        self.log(f"fault {key} at {self.fault_at}")
        if key in MISTRAL_FAULTS:
            spec = dict(MISTRAL_FAULTS[key])
            if key == "mistral-drop" and self.phase.key == "mid-stream":
                spec["after_events"] = 3
            await stack.add_sim_fault(spec)
            return
        if self.phase.key == "tool-call":
            # The tool's write is committed and its answer is held (MCP_TOOL_DELAY_MS): now.
            found = await asyncio.to_thread(
                poll, lambda: stack.food_counts(self.user_id)[FIRST_FOOD] >= 1, 5.0
            )
            if not found:
                self.reasons.append("harness: the tool's write never showed in the store")
        if key == "worker-sigkill":
            await stack.akill_and_restart(*WORKERS)
        elif key == "gateway-sigkill":
            await stack.akill_and_restart("gateway")
        elif key == "redis-restart":
            await stack.akill_and_restart("redis", down_s=DOWN_S["redis"])
        elif key == "redis-pause":
            stack.local.processes()["redis"].signal(signal.SIGSTOP)
            try:
                await asyncio.sleep(PAUSE_S)
            finally:
                stack.heal_paused()
        elif key == "mcp-restart":
            await stack.akill_and_restart("mcp")
        elif key == "temporal-restart":
            await stack.akill_and_restart("temporal", down_s=DOWN_S["temporal"])
        elif key == "sim-restart":
            await asyncio.to_thread(stack.restart, "mistral-sim")
        else:
            raise ValueError(f"no fault {key}")
        self.log(f"fault {key} done")

    async def _mcp_back(self, first_over: asyncio.Event) -> None:
        """MCP comes back MCP_DOWN_S after the first turn was sent, or when that turn is over."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first_over.wait(), MCP_DOWN_S)  # the outage's length
        self.log("MCP back")
        try:
            await asyncio.to_thread(self.stack.restart, "mcp")
        except Exception as exc:
            self.fault_error = f"{type(exc).__name__}: {exc}"
            self.reasons.append(f"harness: MCP did not come back: {self.fault_error}")

    async def _wait_fault(self, within: float = 90.0) -> None:
        if self.fault_task is None:
            return
        try:
            async with asyncio.timeout(within):
                await asyncio.shield(self.fault_task)
        except TimeoutError:
            self.reasons.append(f"harness: the fault did not finish in {within:.0f} s")

    # -- the properties --------------------------------------------------------------------

    def check_turn_ended(self, seen: Followed, within: float) -> bool:
        end = seen.terminal
        self.completed += end is not None and end.event == "turn.completed"
        if end is None:
            errors = "; ".join(dict.fromkeys(seen.errors)) or "none"
            self.reasons.append(
                f"turn: no end within {within:.0f} s (last events: {seen.summary()}; "
                f"client errors: {errors[:300]})"
            )
            return False
        if end.event == "turn.failed":
            error = end.data.get("error") or {}
            if not (error.get("code") and error.get("message")):
                self.reasons.append(f"turn: failed without a code and message: {end.data}")
            else:
                # Clean, and allowed; noted in the table so a recovery that gave up shows.
                self.notes.append(f"turn failed cleanly: {error['code']}: {error['message'][:160]}")
        elif end.event != "turn.completed":
            self.reasons.append(f"turn: ended {end.event} ({end.data.get('reason')})")
        return True

    async def check_record(self, seen: Followed, within: float = 5.0) -> None:
        """The session's record of the turn (GET /v1/sessions/{sid}) says what its events said."""
        end = seen.terminal
        assert end is not None
        wanted = {"turn.completed": "completed", "turn.failed": "failed"}.get(
            end.event, "cancelled"
        )
        deadline = time.monotonic() + within
        status = "unknown"
        while time.monotonic() < deadline:
            try:
                response = await self.api.http.get(f"/v1/sessions/{self.sid}", timeout=5)
                if response.status_code == 200:
                    turns = {t["turn_id"]: t for t in response.json().get("turns", [])}
                    status = str(turns.get(seen.turn_id, {}).get("status", "missing"))
                    if status == wanted:
                        return
                else:
                    status = f"HTTP {response.status_code}"
            except (httpx2.HTTPError, OSError) as exc:
                status = type(exc).__name__
            await asyncio.sleep(RECONNECT_EVERY_S)
        self.reasons.append(
            f"record: the session says the turn is {status}, its events {end.event}"
        )

    async def check_resume(self, seen: Followed) -> None:
        if seen.duplicates:
            self.reasons.append(f"viewer: the following client got {seen.duplicates[:3]} twice")
        if seen.out_of_order:
            self.reasons.append(f"viewer: events out of order {seen.out_of_order[:2]}")
        resume_from = self.fault_at
        if resume_from in (None, "0"):
            # The fault came before the turn (queued, or MCP down at the start): a viewer that
            # resumes from just before the turn's first event must get all of it.
            first = next((e.id for e in seen.events if e.id), None)
            resume_from = None if first is None else f"{event_key(first)[0] - 1}-0"
        if resume_from is None or seen.turn_id is None:
            self.reasons.append("viewer: no event id to resume from")
            return
        resumed = Followed(turn_id=seen.turn_id)
        deadline = time.monotonic() + RESUME_DEADLINE_S
        errors: list[str] = []
        while time.monotonic() < deadline and resumed.terminal is None:
            last = next((e.id for e in reversed(resumed.events) if e.id), resume_from)
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    async with self.api.http.stream(
                        "GET",
                        f"/v1/sessions/{self.sid}/events",
                        params={"turn_id": seen.turn_id},
                        headers={"Last-Event-ID": last},
                    ) as response:
                        if response.status_code != 200:
                            errors.append(f"HTTP {response.status_code}")
                        else:
                            async for event in sse_events(response):
                                if event.data.get("turn_id") not in (None, seen.turn_id):
                                    continue
                                resumed.add(event)
                                if event.event in TERMINAL:
                                    break
            except TimeoutError:
                break
            except (httpx2.HTTPError, OSError) as exc:
                errors.append(type(exc).__name__)
            if resumed.terminal is None:
                await asyncio.sleep(RECONNECT_EVERY_S)
        if resumed.terminal is None:
            self.reasons.append(
                f"viewer: resuming after {resume_from} got no end in {RESUME_DEADLINE_S:.0f} s "
                f"({len(resumed.events)} events: {resumed.summary()}; errors {errors[:3]})"
            )
            return
        if resumed.duplicates:
            self.reasons.append(f"viewer: resumed stream repeated {resumed.duplicates[:3]}")
        if seen.terminal is not None and resumed.terminal.event != seen.terminal.event:
            self.reasons.append(
                f"viewer: resumed stream ends {resumed.terminal.event}, "
                f"the turn ended {seen.terminal.event}"
            )
        self._check_gaps(seen, resumed)
        if resumed.events and resumed.events[0].event == "stream.gap":
            return  # the log lost part of the turn and said so: the rest is what is left
        after = event_key(resume_from)
        expected = {
            e.id: e.event
            for e in seen.events
            if e.id and event_key(e.id) > after and e.event != "stream.gap"
        }
        got = {e.id: e.event for e in resumed.events if e.id and e.event != "stream.gap"}
        missing = [f"{t} {i}" for i, t in expected.items() if i not in got]
        unseen = [f"{t} {i}" for i, t in got.items() if i not in expected]
        if missing:
            self.reasons.append(
                f"viewer: resuming after {resume_from} lost {len(missing)} event(s) the "
                f"following client saw: {missing[:3]}"
            )
        if unseen:
            self.reasons.append(
                f"viewer: the following client missed {len(unseen)} event(s) across its "
                f"reconnects: {unseen[:3]}"
            )

    def _check_gaps(self, seen: Followed, resumed: Followed) -> None:
        """`stream.gap` marks events that never reached the log. Only a bus outage excuses that,
        and only once the outage has begun: a gap under any other fault, or before the fault,
        is events lost while Redis was up."""
        if self.fault.key in BUS_FAULTS:
            early = [e.id for e in seen.events[: self.fault_index] if e.event == "stream.gap"]
            if early:
                self.reasons.append(
                    f"viewer: stream.gap {early[0]} before the fault (events lost with Redis up)"
                )
            return
        gaps = {e.id for e in [*seen.events, *resumed.events] if e.event == "stream.gap"}
        if gaps:
            self.reasons.append(
                f"viewer: stream.gap {sorted(map(str, gaps))[:2]} though Redis never failed "
                "(events lost)"
            )

    async def check_conversations(self, before: set[str] | None) -> None:
        try:
            made = await self.stack.conversation_ids() - (before or set())
            inputs = await self.stack.user_inputs(made)
        except (httpx2.HTTPError, OSError) as exc:
            self.reasons.append(f"conversations: could not read the simulator ({exc})")
            return
        self.log(
            f"conversations checked: {len(inputs)}, user inputs {sum(map(len, inputs.values()))}"
        )
        if self.completed and not any(inputs.values()):
            # A turn completed, so some conversation holds its input: a check that finds none
            # has looked in the wrong place.
            self.reasons.append("harness: no conversation of this cell found to check")
        for cid, counts in inputs.items():
            twice = {text: n for text, n in counts.items() if n > 1}
            if twice:
                self.reasons.append(f"conversations: {cid} has user input {twice}")

    def check_side_effects(self) -> None:
        counts = self.stack.food_counts(self.user_id)
        self.log(f"diary of {self.user_id}: {dict(counts)}")
        twice = {food: n for food, n in counts.items() if n > 1}
        if twice:
            self.reasons.append(f"side effects: logged twice or more in the diary: {twice}")
        for food in sorted(self.logged_ok - set(counts)):
            # The turn said the food was logged: the write is a completed step, never forgotten
            # (and a store that shows nothing would make the check above say nothing).
            self.reasons.append(f"side effects: food_log succeeded but no {food} in the diary")

    def note_tool_results(self, seen: Followed, food: str) -> None:
        for event in seen.events:
            if (
                event.event == "tool.result"
                and event.data.get("name") == "food_log"
                and not event.data.get("is_error")
            ):
                self.logged_ok.add(food)

    async def _conversations(self) -> set[str] | None:
        try:
            return await self.stack.conversation_ids()
        except (httpx2.HTTPError, OSError):
            return None
