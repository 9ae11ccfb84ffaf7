"""What a session accepts: the checks behind its updates, apart from the turn's story.

The session workflow's update validators call these; a refusal is an `ApplicationError` whose
type is one of `SessionErrors` (services/common/sessions.py), which the gateway turns into an
HTTP status. A validator that refuses writes nothing to history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from temporalio.exceptions import ApplicationError

from services.common.sessions import (
    MAX_INPUT_CHARS,
    MAX_QUEUED_TURNS,
    SessionErrors,
    TurnReceipt,
    TurnRecord,
    TurnRequest,
)


def check_turn(
    request: TurnRequest, *, ended: bool, running: str | None, queue: Sequence[TurnRequest]
) -> None:
    """Refuse a new turn the session cannot take (a retried one never comes here)."""
    if ended:
        raise ApplicationError("the session has ended", type=SessionErrors.ENDED)
    if not request.input.strip():
        raise ApplicationError("input is empty", type=SessionErrors.INVALID_INPUT)
    if len(request.input) > MAX_INPUT_CHARS:
        raise ApplicationError(
            f"input is {len(request.input)} characters; at most {MAX_INPUT_CHARS}",
            type=SessionErrors.INPUT_TOO_LARGE,
        )
    if request.on_busy not in ("enqueue", "reject", "interrupt"):
        raise ApplicationError(
            "on_busy must be enqueue, reject or interrupt", type=SessionErrors.INVALID_INPUT
        )
    if request.on_busy == "reject" and (running is not None or queue):
        raise ApplicationError(
            f"turn {running or queue[0].turn_id} is still running", type=SessionErrors.BUSY
        )
    if len(queue) >= MAX_QUEUED_TURNS:
        raise ApplicationError(
            f"{len(queue)} turns already wait in this session; retry when one is done",
            type=SessionErrors.QUEUE_FULL,
        )


def duplicate_receipt(
    turn_id: str, records: Mapping[str, TurnRecord], queue: Sequence[TurnRequest]
) -> TurnReceipt:
    """The receipt of a turn submitted again (a client's retry): where it stands now. A turn
    whose record is no longer kept finished long ago."""
    record = records.get(turn_id)
    status = record.status if record is not None else "completed"
    position: int | None = None
    if status == "queued":
        position = next((i + 1 for i, r in enumerate(queue) if r.turn_id == turn_id), None)
    elif status == "running":
        position = 0
    return TurnReceipt(turn_id=turn_id, status=status, position=position, duplicate=True)


def check_cancel(turn_id: str, record: TurnRecord | None) -> None:
    """Refuse to cancel a turn the session does not know or that already ended."""
    if record is None:
        raise ApplicationError(f"no turn {turn_id}", type=SessionErrors.UNKNOWN_TURN)
    if record.status not in ("queued", "running"):
        raise ApplicationError(
            f"turn {turn_id} already {record.status}", type=SessionErrors.TURN_FINISHED
        )


def unknown_approval(approval_id: str) -> ApplicationError:
    return ApplicationError(
        f"no pending approval {approval_id}", type=SessionErrors.UNKNOWN_APPROVAL
    )
