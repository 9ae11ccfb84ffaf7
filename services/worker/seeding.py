"""What a new conversation is seeded with when Mistral lost the session's one.

The workflow knows each finished turn's input and answer (its turn records) and the current
turn's tool steps; replayed as entries at the start of the new conversation, they give the model
the context it had. Bounded, so the seed neither outgrows a model's context nor workflow history.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.common.sessions import TurnRecord
from services.worker.activity_types import FunctionCall, FunctionOutput, PriorEntry

SEED_TURNS = 20
SEED_CHARS = 48_000


def past_turns(records: Iterable[TurnRecord]) -> list[PriorEntry]:
    """The newest completed turns as user/assistant pairs, oldest first, within the bounds."""
    pairs: list[list[PriorEntry]] = []
    size = 0
    for record in reversed(list(records)):
        if record.status != "completed" or not record.input or record.output is None:
            continue
        size += len(record.input) + len(record.output)
        if len(pairs) >= SEED_TURNS or (pairs and size > SEED_CHARS):
            break
        pairs.append([PriorEntry("user", record.input), PriorEntry("assistant", record.output)])
    return [entry for pair in reversed(pairs) for entry in pair]


def tool_step(calls: list[FunctionCall], outputs: list[FunctionOutput]) -> list[PriorEntry]:
    """One step's function calls and their results, as entries."""
    return [
        *(PriorEntry("function.call", c.arguments, c.call_id, c.name) for c in calls),
        *(PriorEntry("function.result", o.output, o.call_id, o.name) for o in outputs),
    ]
