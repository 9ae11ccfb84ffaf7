"""Serving prometheus-client metrics from a service of one or several processes.

A service that runs several processes (gunicorn, uvicorn `--workers`) records into files under
`PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode), which the starting process
prepares before any worker imports the client; a scrape of any process then sums them all.
Without that directory (one process, or an app in a test) the process's own registry answers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as multiprocess_mode
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> Path:
    """An empty folder for this service's processes to record into, named in the environment
    they inherit (an earlier run's files would add stale counts)."""
    configured = os.environ.get(MULTIPROC_VARIABLE)
    folder = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="da-metrics-"))
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_VARIABLE] = str(folder)
    return folder


def registry() -> CollectorRegistry:
    """What a scrape reads: every process's files in multiprocess mode, else this process."""
    if not os.environ.get(MULTIPROC_VARIABLE):
        return REGISTRY
    collected = CollectorRegistry()
    # prometheus-client leaves this constructor unannotated; it registers itself.
    collector: Callable[[CollectorRegistry], object] = multiprocess_mode.MultiProcessCollector
    collector(collected)
    return collected


def mark_process_dead(pid: int) -> None:
    """A process that exited: its live gauges leave the sums (counters stay)."""
    if os.environ.get(MULTIPROC_VARIABLE):
        # prometheus-client leaves it unannotated.
        mark_dead: Callable[[int], None] = multiprocess_mode.mark_process_dead
        mark_dead(pid)


async def metrics_page(request: Request) -> Response:
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)


ROUTES = [Route("/metrics", metrics_page, methods=["GET"], include_in_schema=False)]
