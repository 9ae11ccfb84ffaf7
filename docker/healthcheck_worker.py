"""Compose healthcheck of a worker container: healthy while its worker polls Temporal.

The worker serves no HTTP, so "alive" means what matters: Temporal has seen a poll on the
worker's task queue, recently, from a poller whose identity names this container. The SDK's
default identity is `<pid>@<hostname>` and a container's hostname is its own (replicas differ).

Exit 0 when healthy, 1 otherwise (with one line saying why). Connects as the worker does
(services/common/temporal_client.py: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key) and
asks about TEMPORAL_TASK_QUEUE.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time

# A healthy poller re-polls at least once per long poll (about a minute); allow two.
MAX_POLL_AGE_S = float(os.environ.get("WORKER_HEALTH_MAX_POLL_AGE_S", "150"))


async def check() -> str | None:
    """None when healthy, else the reason."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    from services.common.settings import TemporalSettings, load_settings
    from services.common.temporal_client import connect_temporal

    settings = load_settings(TemporalSettings)
    client = await connect_temporal(settings)
    namespace, queue = client.namespace, settings.task_queue
    host = socket.gethostname()
    now = time.time()
    seen = []
    for queue_type in (
        TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    ):
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=queue_type,
            )
        )
        for poller in response.pollers:
            if host not in poller.identity:
                continue
            age = now - poller.last_access_time.ToSeconds()
            if age <= MAX_POLL_AGE_S:
                return None
            seen.append(f"{poller.identity} last polled {age:.0f}s ago")
    return f"no recent poller from {host} on {queue!r}" + (f" ({'; '.join(seen)})" if seen else "")


def main() -> int:
    try:
        reason = asyncio.run(asyncio.wait_for(check(), timeout=8))
    # Any failure to ask Temporal is "unhealthy", said in one line (a connection that cannot
    # work is a ConfigError, which is a SystemExit).
    except (Exception, SystemExit) as exc:
        reason = f"cannot ask Temporal: {type(exc).__name__}: {exc}"
    if reason:
        print(f"worker unhealthy: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # temporalio can crash at interpreter exit (sdk-python#300), which would read as unhealthy.
    os._exit(status)
