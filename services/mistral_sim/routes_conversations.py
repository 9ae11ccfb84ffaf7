"""`/v1/conversations`: start, append, restart (each JSON or SSE, chosen by `stream` in the
body), and the read endpoints."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import AsyncIterator

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.mistral_sim import entries
from services.mistral_sim.bodies import int_param, metadata_param, parse_body
from services.mistral_sim.faults import DELAY_SCOPE_KEY
from services.mistral_sim.ids import new_id, now_iso
from services.mistral_sim.jsonresponse import JsonResponse, empty_204
from services.mistral_sim.schemas import (
    ConversationAppend,
    ConversationRestart,
    ConversationStart,
)
from services.mistral_sim.state import sim
from services.mistral_sim.store import Conversation, metadata_matches
from services.mistral_sim.turns import TurnRun


async def _answer(request: Request, run: TurnRun, stream: bool) -> Response:
    if stream:
        stop = anyio.Event()

        async def events() -> AsyncIterator[ServerSentEvent]:
            async for event in run.stream(stop):
                yield event.sse()

        # On shutdown sse-starlette sets `stop` and gives the stream a moment to end itself.
        return EventSourceResponse(
            events(), sep="\n", ping=15, shutdown_event=stop, shutdown_grace_period=1.0
        )
    await run.finished.wait()
    return JsonResponse(run.response())


def _turn(
    request: Request,
    conversation: Conversation,
    body: ConversationStart | ConversationAppend | ConversationRestart,
) -> TurnRun:
    return sim(request).engine.begin(
        conversation,
        entries.input_entries(body.inputs),
        client_handoffs=body.handoff_execution == "client",
        extra_delay_s=float(request.scope.get(DELAY_SCOPE_KEY, 0.0)),
        completion_args=body.completion_args,
    )


async def start(request: Request) -> Response:
    body = await parse_body(request, ConversationStart)
    state = sim(request)
    stamp = now_iso()
    conversation = Conversation(
        id=new_id("conv"),
        created_at=stamp,
        updated_at=stamp,
        name=body.name,
        description=body.description,
        metadata=body.metadata,
        stored=body.store is not False,
    )
    if body.agent_id:
        record = state.store.agent(body.agent_id)
        record.resolve_version(body.agent_version)  # an unknown version is a 404 now
        conversation.agent_id = record.id
        conversation.agent_version = body.agent_version
    else:
        conversation.model = body.model
        conversation.instructions = body.instructions
        conversation.tools = [
            tool.model_dump(mode="json", exclude_unset=True) for tool in body.tools or []
        ]
        conversation.completion_args = body.completion_args or {}
        conversation.guardrails = body.guardrails
    run = _turn(request, conversation, body)
    state.store.add_conversation(conversation)
    return await _answer(request, run, body.stream)


async def append(request: Request) -> Response:
    body = await parse_body(request, ConversationAppend)
    conversation = sim(request).store.conversation(request.path_params["conversation_id"])
    run = _turn(request, conversation, body)
    return await _answer(request, run, body.stream)


async def restart(request: Request) -> Response:
    """A new conversation with the entries up to and including `from_entry_id` (same ids)."""
    body = await parse_body(request, ConversationRestart)
    state = sim(request)
    source = state.store.conversation(request.path_params["conversation_id"])
    keep = source.find_entry(body.from_entry_id) + 1
    stamp = now_iso()
    # Copy only the kept entries, not the whole history first.
    conversation = copy.deepcopy(dataclasses.replace(source, entries=source.entries[:keep]))
    conversation.id = new_id("conv")
    conversation.created_at = conversation.updated_at = stamp
    conversation.busy = False
    conversation.stored = body.store is not False
    conversation.active_agent_id = _author_of(conversation)
    if body.metadata is not None:
        conversation.metadata = body.metadata
    if body.agent_version is not None and conversation.agent_id is not None:
        state.store.agent(conversation.agent_id).resolve_version(body.agent_version)
        conversation.agent_version = body.agent_version
    run = _turn(request, conversation, body)
    state.store.add_conversation(conversation)
    return await _answer(request, run, body.stream)


def _author_of(conversation: Conversation) -> str | None:
    """Who spoke last in the kept entries: they answer next, as in the source conversation."""
    for entry in reversed(conversation.entries):
        if entry.get("type") == "agent.handoff":
            return str(entry["next_agent_id"])
        if entry.get("agent_id"):
            return str(entry["agent_id"])
    return conversation.agent_id


async def list_conversations(request: Request) -> Response:
    page = int_param(request, "page", 0) or 0
    size = int_param(request, "page_size", 100) or 100
    wanted = metadata_param(request)
    found = [
        conv
        for conv in sim(request).store.listed_conversations()
        if metadata_matches(conv.metadata, wanted)
    ]
    return JsonResponse([conv.to_wire() for conv in found[page * size : (page + 1) * size]])


async def get_conversation(request: Request) -> Response:
    conversation = sim(request).store.conversation(request.path_params["conversation_id"])
    return JsonResponse(conversation.to_wire())


async def delete_conversation(request: Request) -> Response:
    sim(request).store.delete_conversation(request.path_params["conversation_id"])
    return empty_204()


async def history(request: Request) -> Response:
    conversation = sim(request).store.conversation(request.path_params["conversation_id"])
    return JsonResponse(
        {
            "object": "conversation.history",
            "conversation_id": conversation.id,
            "entries": conversation.entries,
        }
    )


async def messages(request: Request) -> Response:
    conversation = sim(request).store.conversation(request.path_params["conversation_id"])
    kept = [e for e in conversation.entries if e.get("type") in ("message.input", "message.output")]
    return JsonResponse(
        {"object": "conversation.messages", "conversation_id": conversation.id, "messages": kept}
    )


routes = [
    Route("/v1/conversations", start, methods=["POST"]),
    Route("/v1/conversations", list_conversations, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}", append, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}", get_conversation, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}", delete_conversation, methods=["DELETE"]),
    Route("/v1/conversations/{conversation_id}/restart", restart, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}/history", history, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}/messages", messages, methods=["GET"]),
]
