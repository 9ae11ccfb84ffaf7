"""The singleton that registers a team on Mistral: one run per team at a time.

Sessions reach it through `resolve_roster` with workflow id `roster/<team>/<endpoint>` and
USE_EXISTING, so however many sessions start at once, one registration runs and all of them get
its answer; agents are never created twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.worker.activities import ROSTER_WORKFLOW, SessionActivities
    from services.worker.activity_types import Roster, RosterRequest


@workflow.defn(name=ROSTER_WORKFLOW)
class RosterWorkflow:
    @workflow.run
    async def run(self, request: RosterRequest) -> Roster:
        return await workflow.execute_activity_method(
            SessionActivities.register_team,
            request,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=200),
                maximum_interval=timedelta(seconds=5),
                maximum_attempts=5,
            ),
        )
