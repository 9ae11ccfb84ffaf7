"""The optional pieces an overlay adds for managed backends: a client certificate for Temporal
(components/temporal-mtls) and a password and certificates for Redis (components/redis-auth),
mounted where the variables the services read say, in exactly the pods that connect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy.manifests import render_with_components

# Component -> (the Secret, where it is mounted, what common-config then points into it).
COMPONENTS = {
    "temporal-mtls": (
        "temporal-tls",
        "/var/run/secrets/durable-agents/temporal-tls",
        {"TEMPORAL_TLS_CLIENT_CERT_PATH": "tls.crt", "TEMPORAL_TLS_CLIENT_KEY_PATH": "tls.key"},
    ),
    "redis-auth": (
        "redis-auth",
        "/var/run/secrets/durable-agents/redis",
        {"REDIS_PASSWORD_FILE": "password"},
    ),
}
# Both Temporal and Redis are the gateway's and the workers' (the MCP server uses neither).
CONNECTING = {"gateway", "worker"}


def _common_config(manifests: list[dict[str, Any]]) -> dict[str, str]:
    (config,) = [
        m
        for m in manifests
        if m["kind"] == "ConfigMap" and m["metadata"]["name"].startswith("common-config-")
    ]
    data: dict[str, str] = config["data"]
    return data


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_a_component_mounts_its_secret_where_the_variables_point(
    component: str, tmp_path: Path
) -> None:
    secret, mount_path, files = COMPONENTS[component]
    manifests = render_with_components(tmp_path, component)
    config = _common_config(manifests)
    for variable, file in files.items():
        assert config[variable] == f"{mount_path}/{file}"
    for manifest in manifests:
        if manifest["kind"] != "Deployment":
            continue
        spec = manifest["spec"]["template"]["spec"]
        mounts = {m["mountPath"]: m for m in spec["containers"][0].get("volumeMounts", [])}
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        name = manifest["metadata"]["name"]
        if name in CONNECTING:
            assert mounts[mount_path]["readOnly"] is True, name
            assert volumes[mounts[mount_path]["name"]]["secret"]["secretName"] == secret
        else:
            assert mount_path not in mounts, name


def test_the_components_combine(tmp_path: Path) -> None:
    manifests = render_with_components(tmp_path, *sorted(COMPONENTS))
    config = _common_config(manifests)
    for _secret, mount_path, files in COMPONENTS.values():
        for variable, file in files.items():
            assert config[variable] == f"{mount_path}/{file}"


def test_prometheus_scrape_lets_only_the_monitoring_namespace_reach_the_metrics_ports(
    tmp_path: Path,
) -> None:
    manifests = render_with_components(tmp_path, "prometheus-scrape")
    policies = {m["metadata"]["name"]: m["spec"] for m in manifests if m["kind"] == "NetworkPolicy"}
    reach = {
        policies[name]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: [
            (peer, [p["port"] for p in rule["ports"]])
            for rule in policies[name]["ingress"]
            for peer in rule["from"]
        ]
        for name in ("metrics-from-monitoring", "mcp-metrics-from-monitoring")
    }
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }
    assert reach == {"worker": [(monitoring, [9464])], "mcp": [(monitoring, [9000])]}
    worker = next(
        m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == "worker"
    )
    template = worker["spec"]["template"]
    assert template["metadata"]["annotations"]["prometheus.io/port"] == "9464"
    (container,) = template["spec"]["containers"]
    assert {"name": "metrics", "containerPort": 9464} in container["ports"]
