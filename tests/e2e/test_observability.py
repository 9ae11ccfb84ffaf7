"""The Grafana dashboard (deploy/observability/) queries only metrics the stack serves.

A tool turn runs; then every service's /metrics is scraped and each metric a dashboard query
names must be there, or be derived by a Prometheus rule (deploy/observability/rules.yml), or be
one that appears only once its event happens (a 429, an approval: their export is tested in
tests/integration/gateway/test_metrics.py and tests/integration/worker/test_metrics.py).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import yaml

from services.common import metrics
from tests.e2e.client import Api
from tests.e2e.conftest import E2EStack
from tests.fixtures.prometheus import samples, scrape

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
DASHBOARD = OBSERVABILITY / "grafana" / "dashboards" / "durable-agents.json"
ONCE_THEY_HAPPEN = {
    metrics.REJECTED_REQUESTS.sample,
    metrics.APPROVALS_REQUESTED.sample,
    metrics.APPROVALS_RESOLVED.sample,
}
SUFFIXES = ("_bucket", "_count", "_sum")


def dashboard_metrics() -> set[str]:
    """The metric names the dashboard's queries read (histograms by their base name)."""
    dashboard = json.loads(DASHBOARD.read_text())
    found: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            found |= set(re.findall(r"\b(?:durable_agents|temporal)_[a-z_]+", target["expr"]))
    return {_base(name) for name in found}


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def recorded_by_rules() -> set[str]:
    rules = yaml.safe_load((OBSERVABILITY / "rules.yml").read_text())
    return {rule["record"] for group in rules["groups"] for rule in group["rules"]}


async def test_the_dashboard_queries_metrics_the_stack_serves(stack: E2EStack, api: Api) -> None:
    local = stack.require_local()
    sid = await api.create_session(user_id=f"e2e-{uuid.uuid4().hex[:8]}")
    turn = await api.stream_turn(sid, "How is my progress today?")
    assert turn.tool_results(), "the turn should call a tool"
    urls = [f"{local.gateway_url}/metrics", f"http://127.0.0.1:{local.ports.mcp}/metrics"]
    urls += [spec.metrics_url for spec in local.specs.values() if spec.metrics_url]
    assert len(urls) == 2 + local.workers
    served: set[str] = set()
    for url in urls:
        text = await scrape(url)
        served |= {_base(name) for name, _ in samples(text)}
        served |= set(re.findall(r"^# HELP (\S+)", text, flags=re.MULTILINE))
    wanted = dashboard_metrics()
    assert metrics.TURNS.sample in wanted  # the parse found the queries
    missing = wanted - served - recorded_by_rules() - ONCE_THEY_HAPPEN
    assert not missing, f"the dashboard queries metrics nothing serves: {sorted(missing)}"
    assert metrics.APPROVALS_PENDING.name in recorded_by_rules()
