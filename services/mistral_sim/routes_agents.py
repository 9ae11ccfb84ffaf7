"""`/v1/agents`: create, read, list (bare array and pages), update (new version), versions,
aliases, delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.mistral_sim import errors
from services.mistral_sim.bodies import bool_param, int_param, metadata_param, parse_body
from services.mistral_sim.ids import now_iso
from services.mistral_sim.jsonresponse import JsonResponse, empty_204
from services.mistral_sim.schemas import AgentCreate, AgentUpdate
from services.mistral_sim.state import sim
from services.mistral_sim.store import AgentRecord, metadata_matches


async def create_agent(request: Request) -> Response:
    body = await parse_body(request, AgentCreate)
    record = sim(request).store.create_agent(body.model_dump(mode="json", exclude_unset=True))
    return JsonResponse(record.to_wire())


def _filtered(request: Request) -> list[AgentRecord]:
    name = request.query_params.get("name")
    search = (request.query_params.get("search") or "").lower()
    ident = request.query_params.get("id")
    sources = request.query_params.getlist("sources")
    deployment_chat = bool_param(request, "deployment_chat")
    metadata = metadata_param(request)
    found = []
    for record in sim(request).store.agents.values():
        config = record.config()
        text = f"{config.get('name', '')} {config.get('description') or ''}".lower()
        if (
            (name is None or config.get("name") == name)
            and (not search or search in text)
            and (ident is None or record.id == ident)
            and (not sources or "api" in sources)
            and (deployment_chat is None or bool(config.get("deployment_chat")) == deployment_chat)
            and metadata_matches(config.get("metadata"), metadata)
        ):
            found.append(record)
    # Newest first, like the console lists them.
    return sorted(found, key=lambda record: (record.created_at, record.id), reverse=True)


async def list_agents(request: Request) -> Response:
    page = int_param(request, "page", 0) or 0
    size = int_param(request, "page_size", 20) or 20
    records = _filtered(request)[page * size : (page + 1) * size]
    return JsonResponse([record.to_wire() for record in records])


async def list_agent_pages(request: Request) -> Response:
    size = int_param(request, "page_size", 20) or 20
    token = request.query_params.get("page_token") or "0"
    offset = int(token) if token.isdigit() else 0
    records = _filtered(request)
    page = records[offset : offset + size]
    following = str(offset + size) if offset + size < len(records) else None
    return JsonResponse(
        {
            "object": "list",
            "data": [record.to_wire() for record in page],
            "next_page_token": following,
        }
    )


def _version_query(request: Request) -> int | str | None:
    raw = request.query_params.get("agent_version")
    if raw is None:
        return None
    return int(raw) if raw.lstrip("-").isdigit() else raw


async def get_agent(request: Request) -> Response:
    record = sim(request).store.agent(request.path_params["agent_id"])
    return JsonResponse(record.to_wire(record.resolve_version(_version_query(request))))


async def update_agent(request: Request) -> Response:
    body = await parse_body(request, AgentUpdate)
    changes: dict[str, Any] = body.model_dump(mode="json", exclude_unset=True)
    record = sim(request).store.update_agent(request.path_params["agent_id"], changes)
    return JsonResponse(record.to_wire())


async def delete_agent(request: Request) -> Response:
    sim(request).store.delete_agent(request.path_params["agent_id"])
    return empty_204()


def _required_int(request: Request, name: str) -> int:
    value = int_param(request, name)
    if value is None:
        raise errors.ApiError(
            422,
            {
                "detail": [
                    {
                        "type": "missing",
                        "loc": ["query", name],
                        "msg": "Field required",
                        "input": None,
                    }
                ]
            },
        )
    return value


async def switch_version(request: Request) -> Response:
    record = sim(request).store.agent(request.path_params["agent_id"])
    record.active_version = record.resolve_version(_required_int(request, "version"))
    return JsonResponse(record.to_wire())


async def list_versions(request: Request) -> Response:
    record = sim(request).store.agent(request.path_params["agent_id"])
    page = int_param(request, "page", 0) or 0
    size = int_param(request, "page_size", 20) or 20
    numbers = sorted(record.versions, reverse=True)[page * size : (page + 1) * size]
    return JsonResponse([record.to_wire(number) for number in numbers])


async def get_version(request: Request) -> Response:
    record = sim(request).store.agent(request.path_params["agent_id"])
    return JsonResponse(record.to_wire(record.resolve_version(request.path_params["version"])))


async def put_alias(request: Request) -> Response:
    record = sim(request).store.agent(request.path_params["agent_id"])
    alias = request.query_params.get("alias")
    if not alias:
        raise errors.bad_request("alias is required")
    version = record.resolve_version(_required_int(request, "version"))
    stamp = now_iso()
    previous = record.aliases.get(alias)
    record.aliases[alias] = {
        "alias": alias,
        "version": version,
        "created_at": previous["created_at"] if previous else stamp,
        "updated_at": stamp,
    }
    return JsonResponse(record.aliases[alias])


async def list_aliases(request: Request) -> Response:
    record = sim(request).store.agent(request.path_params["agent_id"])
    return JsonResponse(list(record.aliases.values()))


async def delete_alias(request: Request) -> Response:
    record = sim(request).store.agent(request.path_params["agent_id"])
    alias = request.query_params.get("alias") or ""
    if record.aliases.pop(alias, None) is None:
        raise errors.not_found("Alias", alias)
    return empty_204()


routes = [
    Route("/v1/agents", create_agent, methods=["POST"]),
    Route("/v1/agents", list_agents, methods=["GET"]),
    Route("/v1/agents/pages", list_agent_pages, methods=["GET"]),
    Route("/v1/agents/{agent_id}", get_agent, methods=["GET"]),
    Route("/v1/agents/{agent_id}", update_agent, methods=["PATCH"]),
    Route("/v1/agents/{agent_id}", delete_agent, methods=["DELETE"]),
    Route("/v1/agents/{agent_id}/version", switch_version, methods=["PATCH"]),
    Route("/v1/agents/{agent_id}/versions", list_versions, methods=["GET"]),
    Route("/v1/agents/{agent_id}/versions/{version}", get_version, methods=["GET"]),
    Route("/v1/agents/{agent_id}/aliases", put_alias, methods=["PUT"]),
    Route("/v1/agents/{agent_id}/aliases", list_aliases, methods=["GET"]),
    Route("/v1/agents/{agent_id}/aliases", delete_alias, methods=["DELETE"]),
]
