"""What deploy/k8s connects: who may reach whom, which Secrets exist, which variables each
service gets (the same as compose.yaml gives it), and where the simulator runs."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from services.gateway.settings import DEV_API_KEY
from tests.unit.deploy.manifests import (
    COMPONENT,
    K8S,
    OVERLAYS,
    ROOT,
    component,
    deployments,
    environment,
    of_kind,
    pod_spec,
    render,
    secret_refs,
)

ANYWHERE = "anywhere"
# Who may open a connection to each component: only the gateway from outside, the MCP server and
# the simulator only from the workers, nobody to the workers. The local overlay's stand-ins for
# Temporal and Redis take the gateway and the workers.
REACHABLE_FROM = {
    "production": {"gateway": {ANYWHERE}, "mcp": {"worker"}, "worker": set()},
    "local": {
        "gateway": {ANYWHERE},
        "mcp": {"worker"},
        "worker": set(),
        "mistral-sim": {"worker"},
        "temporal": {"gateway", "worker"},
        "redis": {"gateway", "worker"},
    },
}
# compose.yaml service -> deployment, and the variables compose passes that a deployment may
# leave out, each with why.
COMPOSE_TO_K8S = {"gateway": "gateway", "worker": "worker", "mcp": "mcp", "mistral-sim": None}
NOT_NEEDED = {
    # Blank in compose.yaml by default, and blank means unset (services/worker/settings.py).
    "MISTRAL_SERVER_URL": "blank means the API or the simulator",
    "WORKER_BUILD_ID": "blank means a hash of the code",
    # Added to the telemetry ConfigMap by whoever runs a collector (deploy/k8s/README.md).
    "OTEL_EXPORTER_OTLP_ENDPOINT": "unset means no collector",
    # Processes per MCP container: the Deployment scales by replicas instead.
    "MCP_WORKERS": "one process per pod",
}


def _selected(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "matchExpressions are not evaluated here"
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def _reachable_from(overlay: str) -> dict[str, set[str]]:
    pods = {
        component(d): d["spec"]["template"]["metadata"]["labels"]
        for d in deployments(overlay).values()
    }
    allowed: dict[str, set[str]] = {name: set() for name in pods}
    policies = of_kind(overlay, "NetworkPolicy").values()
    for policy in policies:
        spec = policy["spec"]
        assert "Ingress" in spec["policyTypes"]
        for name, labels in pods.items():
            if not _selected(spec["podSelector"], labels):
                continue
            for rule in spec.get("ingress", []):
                if "from" not in rule:
                    allowed[name].add(ANYWHERE)
                for peer in rule.get("from", []):
                    if peer.keys() != {"podSelector"}:
                        allowed[name].add(ANYWHERE)  # another namespace or an IP block
                        continue
                    allowed[name] |= {
                        source
                        for source, source_labels in pods.items()
                        if _selected(peer["podSelector"], source_labels)
                    }
    denies_all = [
        p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")
    ]
    assert denies_all, f"{overlay}: no default-deny ingress policy"
    return allowed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_in_only_what_the_platform_needs(overlay: str) -> None:
    assert _reachable_from(overlay) == REACHABLE_FROM[overlay]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_ports_are_the_ports_served(overlay: str) -> None:
    served = {
        component(d): {p["containerPort"] for c in pod_spec(d)["containers"] for p in c["ports"]}
        for d in deployments(overlay).values()
        if any("ports" in c for c in pod_spec(d)["containers"])
    }
    for policy in of_kind(overlay, "NetworkPolicy").values():
        labels = policy["spec"]["podSelector"].get("matchLabels", {})
        if COMPONENT not in labels:
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = {p["port"] for p in rule["ports"]}
            assert ports <= served[labels[COMPONENT]], policy["metadata"]["name"]


def test_the_simulator_runs_only_in_the_local_overlay() -> None:
    assert "mistral-sim" in deployments("local")
    sim_url = environment("local", "worker")["MISTRAL_SIMULATOR_URL"]
    assert sim_url is not None
    assert urlsplit(sim_url).hostname in of_kind("local", "Service")
    production = render("production")
    assert not [m for m in production if "mistral-sim" in yaml.safe_dump(m)]
    assert "MISTRAL_SIMULATOR_URL" not in environment("production", "worker")
    # Nor does production run stand-ins for the external Temporal and Redis.
    assert set(deployments("production")) == {"gateway", "worker", "mcp"}
    assert {"temporal", "redis"} <= set(deployments("local"))


def test_production_workers_need_a_mistral_key_and_mcp_its_database() -> None:
    needed = secret_refs("production")
    assert needed["mistral-api-key"] is True
    assert needed["mcp-database-url"] is True
    assert secret_refs("local")["mistral-api-key"] is False


def test_no_secret_with_real_values_is_committed() -> None:
    """Production renders no Secret at all (the operator creates them, as the README says);
    the local overlay only the well-known development values."""
    assert not of_kind("production", "Secret")
    readme = (K8S / "README.md").read_text()
    for name in secret_refs("production"):
        assert f"`{name}`" in readme, f"deploy/k8s/README.md does not say how to create {name}"
    values = {
        key: base64.b64decode(value).decode()
        for secret in of_kind("local", "Secret").values()
        for key, value in secret["data"].items()
    }
    assert values == {
        "GATEWAY_API_KEYS": f"{DEV_API_KEY}:dev",
        "token": "local-overlay-dev-token-not-a-secret",
    }
    for path in K8S.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "BEGIN" not in text or "PRIVATE KEY" not in text, path
            assert "kind: Secret" not in text, (
                f"{path}: write Secrets with a generator or not at all"
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_compose_passes_reaches_the_same_service(overlay: str) -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    for service, deployment in COMPOSE_TO_K8S.items():
        if deployment is None:
            deployment = service if service in deployments(overlay) else None
        if deployment is None:
            continue
        env = environment(overlay, deployment)
        wanted = set(compose[service].get("environment", {})) - set(NOT_NEEDED)
        if deployment == "mcp" and overlay == "local":
            wanted.discard("DATABASE_URL")  # SQLite in an emptyDir (patches/mcp-sqlite.yaml)
        if deployment == "worker" and overlay == "production":
            wanted.discard("MISTRAL_SIMULATOR_URL")  # no simulator: the key is required
        missing = sorted(wanted - set(env))
        assert not missing, f"{overlay}: {deployment} lacks {missing} (compose.yaml has them)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_and_urls_point_at_what_runs(overlay: str) -> None:
    services = of_kind(overlay, "Service")
    pods = {component(d): d for d in deployments(overlay).values()}
    for name, service in services.items():
        selector = service["spec"]["selector"]
        targets = [
            d
            for d in pods.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, f"service {name} selects {len(targets)} deployments"
        port_names = {p["name"] for c in pod_spec(targets[0])["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    worker = environment(overlay, "worker")
    mcp_url = urlsplit(str(worker["MCP_SERVER_URL"]))
    assert mcp_url.hostname in services
    assert mcp_url.port == 9000
    mcp_hosts = str(environment(overlay, "mcp")["MCP_ALLOWED_HOSTS"]).split(",")
    assert mcp_url.hostname in mcp_hosts, "the MCP server would answer 421 to the workers"
    assert worker["MCP_AUTH_TOKEN_FILE"] == environment(overlay, "mcp")["MCP_AUTH_TOKEN_FILE"]
    if overlay == "local":
        assert str(worker["TEMPORAL_ADDRESS"]).split(":")[0] in services
        assert urlsplit(str(worker["REDIS_URL"])).hostname in services


def test_production_runs_a_release_image() -> None:
    images = {
        c["image"] for d in deployments("production").values() for c in pod_spec(d)["containers"]
    }
    assert len(images) == 1
    (image,) = images
    assert not image.endswith((":dev", ":latest"))
    assert ":" in image


def test_production_keeps_the_replay_log_a_day() -> None:
    """docs/scaling.md sizes Redis with it: at ~29 KB a tool turn a week of log comes first."""
    assert environment("production", "gateway")["EVENT_LOG_TTL_S"] == "86400"
    assert environment("production", "worker")["EVENT_LOG_TTL_S"] == "86400"
