"""The MCP server's metrics and its `GET /metrics` (Prometheus text; open like /healthz, since
the server is reachable only from the workers' network).

With `--workers N` each process records into `PROMETHEUS_MULTIPROC_DIR` (set up by
`python -m services.mcp_server`) and a scrape of any of them sums all; a single process uses
its own registry. The shared metric names are in services/common/metrics.py.
"""

from __future__ import annotations

from prometheus_client import Counter

from services.common import metrics, prometheus

TOOL_CALLS = Counter(
    metrics.MCP_TOOL_CALLS.name, metrics.MCP_TOOL_CALLS.description, metrics.MCP_TOOL_CALLS.labels
)


def tool_call(tool: str, outcome: str) -> None:
    TOOL_CALLS.labels(tool=tool, outcome=outcome).inc()


ROUTES = prometheus.ROUTES
