"""The session's agent team as registered on Mistral, resolved when a turn first needs it.

A team that could not be registered (MCP or Mistral down when the session began) is resolved
again by the next turn: a session never pins that failure. A lost agent is registered again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.worker.activities import SessionActivities
    from services.worker.activity_types import Roster, RosterRequest
    from services.worker.errors import StepErrors, turn_error
    from services.worker.session_limits import ROSTER_PATIENCE, ROSTER_RETRY

# Histories recorded before the roster became a local activity replay the regular activity.
ROSTER_LOCAL_PATCH = "roster-local-activity"
ROSTER_TIMEOUTS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=2),
    "schedule_to_close_timeout": ROSTER_PATIENCE,
    "retry_policy": ROSTER_RETRY,
}


class SessionTeam:
    def __init__(self, team: str, roster: Roster | None) -> None:
        self.team = team
        self.roster = roster

    async def get(self) -> Roster:
        """The registered team, resolved first if it is not yet."""
        if self.roster is None:
            self.roster = await self._resolve(refresh=False)
        return self.roster

    async def for_step(self, refresh: bool) -> Roster:
        """The team for a step; with `refresh`, registered again (Mistral lost an agent)."""
        if refresh:
            self.roster = await self._resolve(refresh=True)
        return await self.get()

    async def _resolve(self, *, refresh: bool) -> Roster:
        request = RosterRequest(self.team, refresh=refresh)
        try:
            # Local: the worker answers from its cache in microseconds, so a session's first
            # turn costs no activity task on the server; on a miss it waits on the roster
            # workflow, which registers the team once for all sessions.
            if workflow.patched(ROSTER_LOCAL_PATCH):
                return await workflow.execute_local_activity_method(
                    SessionActivities.resolve_roster, request, **ROSTER_TIMEOUTS
                )
            return await workflow.execute_activity_method(
                SessionActivities.resolve_roster, request, **ROSTER_TIMEOUTS
            )
        # A regular activity's failure arrives as an ActivityError around its cause; a local
        # activity's last failure as the cause itself.
        except (ActivityError, ApplicationError) as err:
            raise ApplicationError(
                f"the agent team {self.team!r} could not be registered: {turn_error(err).message}",
                type=StepErrors.TEAM_UNAVAILABLE,
                non_retryable=True,
            ) from err
