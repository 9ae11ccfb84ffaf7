"""Gunicorn settings for the gateway (`gunicorn -c services/gateway/gunicorn_conf.py`).

Every value can be overridden from the environment; the names are the ones the Docker image and
the local stack set. Under uvicorn workers `timeout` is a liveness heartbeat, not a request limit,
so SSE streams may stay open for hours.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Protocol

from services.common.logs import log_config


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GATEWAY_BIND", "0.0.0.0:8000")
worker_class = "uvicorn_worker.UvicornWorker"
workers = _int("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2))
# SIGTERM: workers stop accepting, SSE streams close (clients resume elsewhere), then exit; the
# graceful timeout must stay under Compose's stop_grace_period.
graceful_timeout = _int("GATEWAY_GRACEFUL_TIMEOUT", 25)
timeout = _int("GATEWAY_WORKER_TIMEOUT", 60)
keepalive = _int("GATEWAY_KEEPALIVE", 5)
# The gunicornc control socket is a management back door nobody here uses.
control_socket_disable = True
accesslog = "-" if os.environ.get("GATEWAY_ACCESS_LOG", "1") != "0" else None
errorlog = "-"
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")
# gunicorn's and uvicorn's lines (access logs included) in the services' form (LOG_FORMAT).
logconfig_dict = log_config("gateway", loglevel, access=accesslog is not None)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "durable-agents-gateway"


def when_ready(server: object) -> None:
    """With GATEWAY_METRICS_PORT, the master serves every worker's metrics on that port."""
    port = os.environ.get("GATEWAY_METRICS_PORT", "").strip()
    if port and os.environ.get("GATEWAY_METRICS", "true").lower() not in ("0", "false", "off"):
        from prometheus_client import start_http_server

        from services.common.prometheus import registry

        host = os.environ.get("GATEWAY_METRICS_HOST", "0.0.0.0")
        start_http_server(int(port), addr=host, registry=registry())


class _Worker(Protocol):
    pid: int


def child_exit(server: object, worker: _Worker) -> None:
    """A dead worker's gauges leave the sum (its counters stay, as Prometheus expects)."""
    from services.common.prometheus import mark_process_dead

    mark_process_dead(worker.pid)
