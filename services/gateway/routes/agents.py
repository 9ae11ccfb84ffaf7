"""`GET /v1/agents`: the agent teams the workers serve, and the check that `POST /v1/sessions`
names one of them.

The workers publish their teams in Redis (services/common/teams.py, services/worker/catalog.py),
so the gateway needs neither the team files nor the MCP servers. Each process keeps what it read
for a few seconds. `GATEWAY_AGENTS`, when set, narrows the teams this gateway offers.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.teams import TeamInfo, TeamList, read_teams
from services.gateway.models import CreateSession
from services.gateway.problems import Problem
from services.gateway.state import Gateway, gateway

log = logging.getLogger(__name__)

CACHE_S = 5.0
DEFAULT_TEAM = str(CreateSession.model_fields["agent"].default)


class TeamCatalog:
    """The published teams, read at most once per `CACHE_S` per gateway process."""

    def __init__(self, gw: Gateway) -> None:
        self._gw = gw
        self._read_at = float("-inf")
        self._teams: list[TeamInfo] = []

    async def teams(self) -> list[TeamInfo]:
        """The teams this gateway offers; RedisError or OSError when Redis cannot say."""
        if time.monotonic() - self._read_at > CACHE_S:
            self._teams = await read_teams(self._gw.redis)
            self._read_at = time.monotonic()
        allowed = self._gw.settings.agents
        return [team for team in self._teams if not allowed or team.name in allowed]


def catalog(request: Request) -> TeamCatalog:
    state = request.app.state
    found: TeamCatalog | None = getattr(state, "team_catalog", None)
    if found is None:
        found = state.team_catalog = TeamCatalog(gateway(request))
    return found


async def list_agents(request: Request) -> Response:
    try:
        teams = await catalog(request).teams()
    except (RedisError, OSError) as exc:
        log.warning("agent teams unavailable: %s", type(exc).__name__)
        raise Problem(
            503,
            "teams-unavailable",
            "The teams cannot be read now; retry.",
            headers={"Retry-After": "1"},
        ) from None
    return JSONResponse(TeamList(data=teams).model_dump())


async def offered_teams(request: Request) -> list[str]:
    """The names of the teams a session may start with now. Before any worker has published
    its teams (or with Redis away) that is GATEWAY_AGENTS, else the default team."""
    try:
        known = [team.name for team in await catalog(request).teams()]
    except (RedisError, OSError) as exc:
        log.warning("agent teams unavailable (%s)", type(exc).__name__)
        known = []
    return known or sorted(gateway(request).settings.agents or {DEFAULT_TEAM})


async def require_team(request: Request, name: str) -> None:
    """422 `unknown-agent` unless `name` is a team this gateway offers (`offered_teams`)."""
    known = await offered_teams(request)
    if name not in known:
        listing = ", ".join(known)
        raise Problem(422, "unknown-agent", f"No agent team {name!r}; known: {listing}.")


ROUTES = [Route("/v1/agents", list_agents, methods=["GET"])]
