"""Running a turn: the conversation rules, the plan, and the paced generation.

A turn's generation runs as a task of its own, decoupled from the HTTP response: a client that
goes away mid-stream does not stop it, so (as on the real API) the outputs are still stored
and the conversation stays locked (409) until the simulated model has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio

from services.mistral_sim import behaviour, entries, errors, streaming
from services.mistral_sim.ids import now_iso
from services.mistral_sim.persona import Persona, persona_of_agent, persona_of_model
from services.mistral_sim.store import Conversation, Store


@dataclass
class TurnRun:
    conversation: Conversation
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    usage: dict[str, Any]
    events: list[streaming.SimEvent]
    next_agent_id: str | None
    queue: asyncio.Queue[streaming.SimEvent | None] = field(default_factory=asyncio.Queue)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def response(self) -> dict[str, Any]:
        return {
            "object": "conversation.response",
            "conversation_id": self.conversation.id,
            "outputs": self.outputs,
            "usage": self.usage,
            "guardrails": None,
        }

    async def stream(self, stop: anyio.Event) -> AsyncIterator[streaming.SimEvent]:
        """The turn's events as they are generated; when `stop` is set (the server is shutting
        down) a `conversation.response.error` ends the stream cleanly instead of a cut."""
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while True:
                next_event = asyncio.ensure_future(self.queue.get())
                await asyncio.wait({next_event, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not next_event.done():
                    next_event.cancel()
                    yield streaming.error_event("The server is shutting down", 503)
                    return
                if (event := next_event.result()) is None:
                    return
                yield event
        finally:
            stopped.cancel()


class TurnEngine:
    def __init__(self, store: Store, pacing: streaming.Pacing) -> None:
        self.store = store
        self.pacing = pacing

    # --- who answers ----------------------------------------------------------------------

    def lookup(self, agent_id: str) -> Persona | None:
        record = self.store.agents.get(agent_id)
        return persona_of_agent(record) if record is not None else None

    def active_persona(self, conversation: Conversation) -> Persona:
        """The model itself, or the agent that answered last (a handoff moves the turn)."""
        if conversation.agent_id is None:
            return persona_of_model(conversation)
        active = conversation.active_agent_id or conversation.agent_id
        if active != conversation.agent_id and active in self.store.agents:
            return persona_of_agent(self.store.agents[active])
        record = self.store.agent(conversation.agent_id)
        return persona_of_agent(record, record.resolve_version(conversation.agent_version))

    # --- the turn -------------------------------------------------------------------------

    def begin(
        self,
        conversation: Conversation,
        inputs: list[dict[str, Any]],
        *,
        client_handoffs: bool = False,
        extra_delay_s: float = 0.0,
        completion_args: dict[str, Any] | None = None,
    ) -> TurnRun:
        """Check the rules, plan the outputs, lock the conversation and start generating."""
        if conversation.busy:
            raise errors.conversation_busy()
        _check_function_results(conversation.entries, inputs)
        active = self.active_persona(conversation)
        plan = behaviour.plan_turn(
            behaviour.Turn(
                active=active,
                lookup=self.lookup,
                history=conversation.entries,
                inputs=inputs,
                client_handoffs=client_handoffs,
                completion_args=completion_args,
            )
        )
        outputs = [entries.output_entry(output) for output in plan]
        usage = entries.usage(conversation.entries, inputs, outputs, active.instructions)
        run = TurnRun(
            conversation=conversation,
            inputs=inputs,
            outputs=outputs,
            usage=usage,
            events=streaming.conversation_events(conversation.id, outputs, usage, self.pacing),
            next_agent_id=_last_author(plan, active),
        )
        conversation.busy = True
        task = asyncio.create_task(self._generate(run, extra_delay_s))
        self.store.running.add(task)
        task.add_done_callback(self.store.running.discard)
        return run

    async def _generate(self, run: TurnRun, extra_delay_s: float) -> None:
        try:
            if extra_delay_s > 0:
                await asyncio.sleep(extra_delay_s)
            for event in run.events:
                if event.delay_s > 0:
                    await asyncio.sleep(event.delay_s)
                run.queue.put_nowait(
                    streaming.SimEvent(event.delay_s, {**event.data, "created_at": now_iso()})
                )
            self._commit(run)
        finally:
            run.conversation.busy = False
            run.queue.put_nowait(None)
            run.finished.set()

    def _commit(self, run: TurnRun) -> None:
        conversation = run.conversation
        finished = now_iso()
        for output in run.outputs:
            output["completed_at"] = finished
        conversation.entries.extend([*run.inputs, *run.outputs])
        conversation.active_agent_id = run.next_agent_id
        conversation.updated_at = finished
        if not conversation.stored:
            self.store.conversations.pop(conversation.id, None)

    async def shutdown(self) -> None:
        for task in list(self.store.running):
            task.cancel()
        for task in list(self.store.running):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _last_author(plan: list[behaviour.Output], active: Persona) -> str | None:
    author = active.id
    for output in plan:
        author = output.next.id if isinstance(output, behaviour.Handoff) else output.persona.id
    return author


def _check_function_results(history: list[dict[str, Any]], inputs: list[dict[str, Any]]) -> None:
    """Results must answer pending calls; nothing else may come while some are missing."""
    # Calls sent among the inputs (a conversation seeded with earlier steps) count as well.
    pending = entries.pending_calls(
        [*history, *(e for e in inputs if e.get("type") == "function.call")]
    )
    given = [str(e["tool_call_id"]) for e in inputs if e.get("type") == "function.result"]
    unknown = [call_id for call_id in given if call_id not in pending]
    if unknown:
        raise errors.bad_request(
            f"No pending function call with tool_call_id: {', '.join(unknown)}"
        )
    missing = [call_id for call_id in pending if call_id not in given]
    if missing:
        raise errors.missing_function_results(missing)
