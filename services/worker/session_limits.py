"""How long and how often a session tries: retry policies, timeouts and bounds of a turn."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from services.worker.errors import StepErrors

MAX_STEPS = 8
KEEP_RECORDS = 50
# The records carried across continue-as-new stay under this many bytes of JSON (inputs can be
# 32 KB each); with MAX_QUEUED_TURNS inputs the carry stays far below Temporal's 2 MB.
KEEP_RECORDS_BYTES = 256_000
KEEP_SEEN_IDS = 1000
# New conversations one step may begin when Mistral keeps losing them (then the turn fails).
MAX_RESETS = 3
NOT_RUN = "The turn was stopped before this tool ran."
STOPPED_WHILE_RUNNING = "The turn was stopped while this tool ran; it may have taken effect."

MODEL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=6,
    non_retryable_error_types=[StepErrors.MODEL_REJECTED],
)
TOOL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=300),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=4,
)
ROSTER_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
)
# How long a turn waits for its team to be registered (MCP or Mistral may be coming back).
ROSTER_PATIENCE = timedelta(seconds=45)
# Short: a dead worker shows within this + worker.py's sticky 1 s (docs/architecture.md#faults).
HEARTBEAT = timedelta(seconds=3)
# How long a decision for an approval this worker has not (re)created yet waits for it.
APPROVAL_GRACE = timedelta(seconds=5)
