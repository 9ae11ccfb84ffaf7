"""The session's conversation on Mistral, as the workflow knows it, and one model step in it.

Mistral keeps the conversation; the workflow keeps where the next step continues: the
conversation's id, the *anchor* (the last entry of the last completed step, which a restart forks
from), whether the conversation may hold a half-finished step, and the function results it still
owes the calls at the anchor (a turn that ended after its tools ran). A conversation or agent that
Mistral no longer knows is replaced by a new conversation seeded with what the session knows
(services/worker/seeding.py), and clients are told with `conversation.reset`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.common.events import ConversationReset
    from services.common.sessions import BusKey, TurnRecord, TurnRequest
    from services.worker import seeding
    from services.worker.activities import SessionActivities
    from services.worker.activity_types import (
        Anchor,
        ConverseInput,
        ConverseResult,
        FunctionOutput,
        PriorEntry,
        Roster,
        StepContext,
    )
    from services.worker.errors import StepErrors
    from services.worker.session_limits import HEARTBEAT, MAX_RESETS, MODEL_RETRY
    from services.worker.session_state import Carry
    from services.worker.session_tools import Publish

# The session's team; with True, registered again (Mistral lost one of its agents).
Team = Callable[[bool], Awaitable[Roster]]


class SessionConversation:
    def __init__(self, key: BusKey, publish: Publish, carry: Carry) -> None:
        self.session_id = key.session_id
        self.key = key
        self.publish = publish
        self.conversation_id = carry.conversation_id
        self.anchor = carry.anchor
        # The conversation may hold a half-finished step (a turn cancelled or failed in it).
        self.needs_restart = carry.needs_restart
        self.owed: list[FunctionOutput] = list(carry.owed)
        # The turn whose text has begun to stream (its first token is behind it).
        self._spoken: str | None = None

    async def step(
        self,
        request: TurnRequest,
        step: int,
        tool_steps: list[PriorEntry],
        team: Team,
        history: Iterable[TurnRecord],
    ) -> ConverseResult:
        """One model step; a conversation or agent Mistral lost is replaced, and the step runs
        again in a new conversation seeded with `history` and this turn's `tool_steps`."""
        prior: list[PriorEntry] = []
        for resets in range(MAX_RESETS + 1):
            roster = await team(False)
            try:
                result = await self._converse(request, step, roster, prior, resets == 0)
            except ActivityError as err:
                cause = err.cause
                kind = cause.type if isinstance(cause, ApplicationError) else None
                if kind not in (StepErrors.CONVERSATION_LOST, StepErrors.AGENT_LOST):
                    raise
                if resets == MAX_RESETS:
                    raise
                if kind == StepErrors.AGENT_LOST:
                    await team(True)
                prior = self._begin_again(request, step, tool_steps, history, str(cause))
                continue
            self.conversation_id, self.needs_restart, self.owed = result.conversation_id, False, []
            if result.text:
                self._spoken = request.turn_id
            if result.last_entry_id is not None:
                self.anchor = Anchor(result.conversation_id, result.last_entry_id)
            return result
        raise AssertionError("unreachable")

    def _begin_again(
        self,
        request: TurnRequest,
        step: int,
        tool_steps: list[PriorEntry],
        history: Iterable[TurnRecord],
        reason: str,
    ) -> list[PriorEntry]:
        """Forget the lost conversation; the seed of the next one: past turns, and for a later
        step this turn's input and tool steps (whose calls the old conversation held)."""
        self.conversation_id, self.anchor, self.needs_restart, self.owed = None, None, False, []
        prior = seeding.past_turns(r for r in history if r.turn_id != request.turn_id)
        self.publish(
            ConversationReset(
                session_id=self.session_id,
                turn_id=request.turn_id,
                reason=reason,
                turns_carried=sum(1 for e in prior if e.kind == "user"),
            )
        )
        if step > 0:
            prior += [PriorEntry("user", request.input), *tool_steps]
        return prior

    async def _converse(
        self,
        request: TurnRequest,
        step: int,
        roster: Roster,
        prior: list[PriorEntry],
        announce: bool,
    ) -> ConverseResult:
        return await workflow.execute_activity_method(
            SessionActivities.converse,
            ConverseInput(
                context=StepContext.of(self.key, request.turn_id, step),
                entry_agent_id=roster.entry.agent_id,
                entry_agent_version=roster.entry.version,
                agent_names={a.agent_id: a.name for a in roster.agents},
                conversation_id=self.conversation_id,
                anchor=self.anchor,
                restart=self.needs_restart,
                # A seeded later step carries the input and the results in its seed (and owes
                # nothing: _begin_again forgot what the lost conversation was owed).
                user_input=request.input if step == 0 else None,
                function_outputs=list(self.owed),
                prior=prior,
                announce=step == 0 and announce,
                first_token_from=(
                    request.submitted_at if self._spoken != request.turn_id else None
                ),
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT,
            retry_policy=MODEL_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
