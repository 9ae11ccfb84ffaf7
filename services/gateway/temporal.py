"""The gateway's side of the session contract: Temporal calls by name, errors as problems.

Nothing here imports the worker: names, inputs and answers come from `services.common.sessions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.common.sessions import (
    AGENT_MEMO,
    CANCEL_TURN,
    CREATED_ATTRIBUTE,
    DECIDE_APPROVAL,
    END_SESSION,
    FINISHED_TURN_STATUSES,
    SESSION_WORKFLOW,
    STATUS_QUERY,
    SUBMIT_TURN,
    TENANT_ATTRIBUTE,
    TITLE_MEMO,
    TRANSCRIPT_QUERY,
    USER_ATTRIBUTE,
    ApprovalDecision,
    CancelReceipt,
    CancelRequest,
    EndRequest,
    SessionErrors,
    SessionStart,
    SessionStatus,
    TranscriptPage,
    TranscriptRequest,
    TurnReceipt,
    TurnRecord,
    TurnRequest,
    session_title,
    transcript_page,
    workflow_id,
)
from services.gateway.problems import Problem
from services.gateway.session_list import Cursor, SessionPage, newest_sessions

log = logging.getLogger(__name__)

# How long a stream waits for the session to say whether a turn is over. Short: the answer needs
# a running worker, and without one the stream goes on live rather than waiting or failing.
TURN_QUERY_TIMEOUT_S = 2.0
# What a described workflow's status means for its session: only a running one takes turns.
_OPEN_STATUSES = {WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.CONTINUED_AS_NEW}

# What each validator rejection means over HTTP.
ERROR_STATUS: dict[str, tuple[int, str]] = {
    SessionErrors.BUSY: (409, "session-busy"),
    SessionErrors.ENDED: (409, "session-ended"),
    SessionErrors.TURN_FINISHED: (409, "turn-finished"),
    SessionErrors.INPUT_TOO_LARGE: (413, "input-too-large"),
    SessionErrors.INVALID_INPUT: (422, "invalid-input"),
    SessionErrors.UNKNOWN_TURN: (404, "unknown-turn"),
    SessionErrors.UNKNOWN_APPROVAL: (404, "unknown-approval"),
    # Turns already wait behind the running one (MAX_QUEUED_TURNS): later, not never.
    SessionErrors.QUEUE_FULL: (429, "session-queue-full"),
}

_UNAVAILABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
}


def session_not_found(session_id: str) -> Problem:
    return Problem(404, "session-not-found", f"No session {session_id!r}.")


def session_ended(session_id: str) -> Problem:
    return Problem(409, "session-ended", f"The session {session_id!r} has ended.")


def unavailable(detail: str) -> Problem:
    return Problem(503, "temporal-unavailable", detail, headers={"Retry-After": "1"})


class SessionClient:
    """One per gateway process, over the process's Temporal client."""

    def __init__(self, client: Client, task_queue: str, *, timeout_s: float = 20.0) -> None:
        self.client = client
        self.task_queue = task_queue
        self.timeout_s = timeout_s

    def handle(self, tenant_id: str, session_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(workflow_id(tenant_id, session_id))

    async def create(self, start: SessionStart) -> None:
        async with self._errors(start.tenant_id, start.session_id):
            await self.client.start_workflow(
                SESSION_WORKFLOW,
                start,
                id=workflow_id(start.tenant_id, start.session_id),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=listed_as(start),
                memo={AGENT_MEMO: start.agent},
            )

    async def submit(self, start: SessionStart, request: TurnRequest) -> TurnReceipt:
        """Send the turn, starting the session with `start` when it does not exist yet.

        The turn id is the update id: Temporal answers a retried update with its first outcome.
        """
        operation: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            SESSION_WORKFLOW,
            start,
            id=workflow_id(start.tenant_id, start.session_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            # Used only when this message starts the session: it is then the title.
            search_attributes=listed_as(start),
            memo={AGENT_MEMO: start.agent, TITLE_MEMO: session_title(request.input)},
        )
        try:
            async with self._errors(start.tenant_id, start.session_id):
                receipt: TurnReceipt = await self.client.execute_update_with_start_workflow(
                    SUBMIT_TURN,
                    request,
                    start_workflow_operation=operation,
                    id=request.turn_id,
                    result_type=TurnReceipt,
                )
        finally:
            _retrieve_start_outcome(operation)
        return receipt

    async def status(self, tenant_id: str, session_id: str) -> SessionStatus:
        async with self._errors(tenant_id, session_id):
            status: SessionStatus = await self.handle(tenant_id, session_id).query(
                STATUS_QUERY, result_type=SessionStatus
            )
        return status

    async def transcript(
        self, tenant_id: str, session_id: str, request: TranscriptRequest
    ) -> TranscriptPage:
        """A page of the session's turns, from the session's transcript query; a worker too old
        to know that query has the page cut from its status (without tool calls)."""
        handle = self.handle(tenant_id, session_id)
        async with self._errors(tenant_id, session_id):
            try:
                page: TranscriptPage = await handle.query(
                    TRANSCRIPT_QUERY, request, result_type=TranscriptPage
                )
            except WorkflowQueryFailedError as exc:
                if f"'{TRANSCRIPT_QUERY}' expected but not found" not in str(exc):
                    raise  # the message of the Python SDK's workers for an unknown query
                status: SessionStatus = await handle.query(STATUS_QUERY, result_type=SessionStatus)
                page = transcript_page(status.turns, request)
        return page

    async def list_sessions(
        self, tenant_id: str, user_id: str | None, size: int, cursor: Cursor | None
    ) -> SessionPage:
        """The tenant's sessions, newest first (session_list.py)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await newest_sessions(self.client, tenant_id, user_id, size, cursor)
        except TimeoutError:
            raise unavailable("Temporal did not answer in time; retry.") from None
        except RPCError as exc:
            if exc.status in _UNAVAILABLE:
                raise unavailable("Temporal is unavailable; retry.") from None
            if exc.status == RPCStatusCode.INVALID_ARGUMENT:
                # A namespace without the search attributes (scripts/stack/servers.py and
                # docker/temporal/create-namespace.sh register them).
                log.error("listing sessions failed: %s", exc.message)
                raise Problem(
                    502, "temporal-error", "Temporal cannot list sessions in this namespace."
                ) from None
            raise Problem(502, "temporal-error", f"Temporal answered {exc.status.name}.") from None

    async def is_open(self, tenant_id: str, session_id: str) -> bool:
        """Whether the session's workflow still runs (False: it has ended).

        Temporal's describe, answered by the server alone: it needs no worker, unlike the status
        query. The workflow id holds the tenant, so another tenant's session is a 404 here too.
        """
        try:
            async with asyncio.timeout(self.timeout_s):
                description = await self.handle(tenant_id, session_id).describe()
        except TimeoutError:
            raise unavailable("Temporal did not answer in time; retry.") from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise session_not_found(session_id) from None
            if exc.status in _UNAVAILABLE:
                raise unavailable("Temporal is unavailable; retry.") from None
            raise Problem(502, "temporal-error", f"Temporal answered {exc.status.name}.") from None
        return description.status in _OPEN_STATUSES

    async def finished_turn(
        self, tenant_id: str, session_id: str, turn_id: str
    ) -> TurnRecord | None:
        """The turn's record when the session says it is over; None when it is not, or when the
        session cannot say within TURN_QUERY_TIMEOUT_S (no worker runs it): a stream then goes
        on live, as for a turn still running, and never fails for want of this answer."""
        timeout_s = min(TURN_QUERY_TIMEOUT_S, self.timeout_s)
        try:
            async with asyncio.timeout(timeout_s):
                status: SessionStatus = await self.handle(tenant_id, session_id).query(
                    STATUS_QUERY,
                    result_type=SessionStatus,
                    rpc_timeout=timedelta(seconds=timeout_s),
                )
        except Exception as exc:  # a timeout, an RPC or query error: the session cannot say
            log.info("session %s could not say whether a turn is over: %r", session_id, exc)
            return None
        return next(
            (
                t
                for t in status.turns
                if t.turn_id == turn_id and t.status in FINISHED_TURN_STATUSES
            ),
            None,
        )

    async def cancel(
        self, tenant_id: str, session_id: str, request: CancelRequest
    ) -> CancelReceipt:
        receipt: CancelReceipt = await self._update(
            tenant_id, session_id, CANCEL_TURN, request, CancelReceipt
        )
        return receipt

    async def decide(self, tenant_id: str, session_id: str, decision: ApprovalDecision) -> None:
        await self._update(tenant_id, session_id, DECIDE_APPROVAL, decision, type(None))

    async def end(self, tenant_id: str, session_id: str, request: EndRequest) -> None:
        await self._update(tenant_id, session_id, END_SESSION, request, type(None))

    async def ping(self) -> None:
        """Raise unless the Temporal frontend answers."""
        async with asyncio.timeout(2):
            await self.client.service_client.check_health()

    async def _update(
        self, tenant_id: str, session_id: str, name: str, arg: Any, result_type: type
    ) -> Any:
        async with self._errors(tenant_id, session_id):
            return await self.handle(tenant_id, session_id).execute_update(
                name, arg, result_type=result_type
            )

    @contextlib.asynccontextmanager
    async def _errors(self, tenant_id: str, session_id: str) -> AsyncIterator[None]:
        """Bound the call in time and turn whatever Temporal raises into a problem."""
        try:
            async with asyncio.timeout(self.timeout_s):
                yield
        except TimeoutError:
            raise unavailable("The session did not answer in time; retry.") from None
        except WorkflowUpdateFailedError as exc:
            raise application_problem(exc.cause) from None
        except WorkflowAlreadyStartedError:
            # Update-with-start found the id used by a closed run (reuse is rejected).
            raise session_ended(session_id) from None
        except RPCError as exc:
            await self._rpc_problem(exc, tenant_id, session_id)
        except (WorkflowQueryFailedError, WorkflowQueryRejectedError) as exc:
            raise Problem(502, "session-error", f"The session could not answer: {exc}") from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise unavailable("The session did not answer in time; retry.") from None

    async def _rpc_problem(self, exc: RPCError, tenant_id: str, session_id: str) -> NoReturn:
        if exc.status == RPCStatusCode.NOT_FOUND:
            # A closed workflow takes no updates: it existed, so the session has ended.
            if await self._exists(tenant_id, session_id):
                raise session_ended(session_id) from None
            raise session_not_found(session_id) from None
        if exc.status == RPCStatusCode.ALREADY_EXISTS:
            raise session_ended(session_id) from None
        if exc.status in _UNAVAILABLE:
            raise unavailable("Temporal is unavailable; retry.") from None
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise Problem(422, "invalid-request", exc.message) from None
        raise Problem(502, "temporal-error", f"Temporal answered {exc.status.name}.") from None

    async def _exists(self, tenant_id: str, session_id: str) -> bool:
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.handle(tenant_id, session_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise unavailable("Temporal is unavailable; retry.") from None
        except TimeoutError:
            raise unavailable("Temporal is unavailable; retry.") from None
        return True


def listed_as(start: SessionStart) -> TypedSearchAttributes:
    """What lists the session: its tenant, user and creation time (session_list.py)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(TENANT_ATTRIBUTE, start.tenant_id),
            SearchAttributePair(USER_ATTRIBUTE, start.user_id),
            SearchAttributePair(CREATED_ATTRIBUTE, datetime.now(UTC)),
        ]
    )


def _retrieve_start_outcome(operation: WithStartWorkflowOperation[Any, Any]) -> None:
    """The SDK also puts a failed start on the operation's future; reading it keeps asyncio from
    logging "Future exception was never retrieved" for an error already answered."""
    future = getattr(operation, "_workflow_handle", None)
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
        future.exception()


def application_problem(cause: BaseException) -> Problem:
    """The problem for a validator's (or handler's) ApplicationError."""
    if isinstance(cause, ApplicationError) and cause.type in ERROR_STATUS:
        status, slug = ERROR_STATUS[cause.type]
        headers = {"Retry-After": "5"} if status == 429 else None
        return Problem(status, slug, cause.message or None, headers=headers)
    return Problem(502, "session-error", f"The session rejected the request: {cause}")
