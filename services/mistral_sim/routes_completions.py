"""`/v1/chat/completions`, `/v1/agents/completions` and `/v1/models`, for tools that use them.

Chat streams are data-only SSE ending in `data: [DONE]`, unlike conversation streams.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.mistral_sim import errors, streaming, structured
from services.mistral_sim.bodies import parse_body
from services.mistral_sim.chat import ChatAnswer, answer
from services.mistral_sim.ids import hex_id
from services.mistral_sim.jsonresponse import JsonResponse
from services.mistral_sim.persona import Persona, persona_of_agent
from services.mistral_sim.schemas import (
    AgentCompletionRequest,
    ChatCompletionRequest,
    FunctionTool,
)
from services.mistral_sim.state import sim

MODELS = (
    ("mistral-medium-latest", "mistral-medium-2505", 131072),
    ("mistral-medium-2505", None, 131072),
    ("mistral-small-latest", "mistral-small-2506", 131072),
    ("mistral-large-latest", "mistral-large-2411", 131072),
    ("ministral-8b-latest", "ministral-8b-2410", 131072),
)


def _model_card(model_id: str, alias_of: str | None, context: int) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": 1_750_000_000,
        "owned_by": "mistralai",
        "type": "base",
        "name": alias_of or model_id,
        "description": "Simulated model (services.mistral_sim)",
        "max_context_length": context,
        "aliases": [alias_of] if alias_of else [],
        "default_model_temperature": 0.3,
        "capabilities": {"completion_chat": True, "function_calling": True, "vision": False},
    }


async def list_models(request: Request) -> Response:
    return JsonResponse({"object": "list", "data": [_model_card(*model) for model in MODELS]})


async def get_model(request: Request) -> Response:
    wanted = request.path_params["model_id"]
    for model in MODELS:
        if model[0] == wanted:
            return JsonResponse(_model_card(*model))
    raise errors.not_found("Model", wanted)


def _completion(model: str, result: ChatAnswer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.content, "prefix": False}
    if result.tool_calls:
        message["tool_calls"] = result.tool_calls
    return {
        "id": hex_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": result.finish_reason, "message": message}],
        "usage": result.usage,
    }


async def _chunks(
    model: str, result: ChatAnswer, pacing: streaming.Pacing
) -> AsyncIterator[ServerSentEvent]:
    ident, created = hex_id(), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> ServerSentEvent:
        data = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return ServerSentEvent(data=orjson.dumps(data).decode(), sep="\n")

    yield chunk({"role": "assistant", "content": ""}, None)
    await asyncio.sleep(pacing.first_token_s)
    pieces = streaming.tokens(result.content) if result.content else []
    for piece in pieces:
        yield chunk({"content": piece}, None)
        if pacing.token_interval_s:
            await asyncio.sleep(pacing.token_interval_s)
    final: dict[str, Any] = {"content": ""}
    if result.tool_calls:
        # The real API streams each tool call whole, in one delta.
        final = {"tool_calls": result.tool_calls}
    yield chunk(final, result.finish_reason, usage=result.usage)
    yield ServerSentEvent(data="[DONE]", sep="\n")


async def _respond(
    request: Request,
    model: str,
    persona: Persona,
    body: ChatCompletionRequest | AgentCompletionRequest,
) -> Response:
    fmt = structured.response_format(body.response_format, persona.completion_args)
    result = answer(persona, body.messages, body.tools, body.tool_choice, fmt)
    pacing = sim(request).engine.pacing
    if body.stream:
        return EventSourceResponse(_chunks(model, result, pacing), sep="\n", ping=15)
    pieces = len(streaming.tokens(result.content)) if result.content else 0
    delay = pacing.first_token_s + pacing.token_interval_s * pieces
    if delay:
        await asyncio.sleep(delay)
    return JsonResponse(_completion(model, result))


async def chat_completions(request: Request) -> Response:
    body = await parse_body(request, ChatCompletionRequest)
    persona = Persona(id=None, name=body.model, model=body.model)
    return await _respond(request, body.model, persona, body)


async def agent_completions(request: Request) -> Response:
    body = await parse_body(request, AgentCompletionRequest)
    persona = persona_of_agent(sim(request).store.agent(body.agent_id))
    if body.tools is None:
        functions = [tool for tool in persona.tools if tool.get("type") == "function"]
        body.tools = [FunctionTool.model_validate(tool) for tool in functions] or None
    return await _respond(request, persona.model, persona, body)


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/agents/completions", agent_completions, methods=["POST"]),
]
