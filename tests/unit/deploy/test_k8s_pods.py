"""Every pod deploy/k8s renders is locked down, probed on the services' own health endpoints,
and given the time it needs to stop cleanly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from services.gateway.routes.health import ROUTES as GATEWAY_HEALTH
from services.mcp_server.auth import OPEN_PATHS as MCP_OPEN_PATHS
from services.mistral_sim.routes_admin import routes as SIM_ADMIN
from services.worker.settings import WorkerSettings
from tests.unit.deploy.manifests import (
    OVERLAYS,
    ROOT,
    component,
    containers,
    deployments,
    environment,
    of_kind,
    pod_spec,
)

WORKER_PROBE = ["python", "/app/docker/healthcheck_worker.py"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_unprivileged(overlay: str) -> None:
    for name, deployment in deployments(overlay).items():
        spec = pod_spec(deployment)
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True, name
        assert security["runAsUser"] > 0, name
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        # Service links put e.g. GATEWAY_PORT=tcp://... into every pod; the gateway reads
        # GATEWAY_PORT as its port (services/gateway/__main__.py).
        assert spec["enableServiceLinks"] is False, name
        assert not spec.get("hostNetwork"), name
        assert not spec.get("hostPID"), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_read_only_without_capabilities(overlay: str) -> None:
    for container in containers(overlay):
        security = container.spec["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, container.name
        assert security["readOnlyRootFilesystem"] is True, container.name
        assert security["capabilities"]["drop"] == ["ALL"], container.name
        assert not security["capabilities"].get("add"), container.name
        assert not security.get("privileged"), container.name
        resources = container.spec["resources"]
        assert {"cpu", "memory"} <= resources["requests"].keys(), container.name
        assert "memory" in resources["limits"], container.name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_writable_places_are_empty_dirs_or_read_only_secrets(overlay: str) -> None:
    for name, deployment in deployments(overlay).items():
        volumes = {v["name"]: v for v in pod_spec(deployment).get("volumes", [])}
        for volume in volumes.values():
            assert volume.keys() & {"emptyDir", "secret"}, f"{name}: {volume['name']}"
        for container in pod_spec(deployment)["containers"]:
            for mount in container.get("volumeMounts", []):
                if "secret" in volumes[mount["name"]]:
                    assert mount.get("readOnly") is True, f"{name}: {mount['mountPath']}"


def _paths(routes: Sequence[object]) -> set[str]:
    return {str(getattr(route, "path", "")) for route in routes}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_use_each_service_health_endpoint(overlay: str) -> None:
    expected_http = {
        "gateway": ("/healthz", "/readyz", _paths(GATEWAY_HEALTH)),
        "mcp": ("/healthz", "/healthz", set(MCP_OPEN_PATHS)),
        "mistral-sim": ("/healthz", "/healthz", _paths(SIM_ADMIN)),
    }
    ours = {"gateway", "worker", "mcp", "mistral-sim"}
    for name, deployment in deployments(overlay).items():
        container = pod_spec(deployment)["containers"][0]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert probe in container, f"{name}: no {probe}"
        kind = component(deployment)
        if kind == "worker":
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert container[probe]["exec"]["command"] == WORKER_PROBE
        elif kind in expected_http:
            live, ready, served = expected_http[kind]
            ports = {p["name"] for p in container["ports"]}
            assert container["livenessProbe"]["httpGet"]["path"] == live
            assert container["readinessProbe"]["httpGet"]["path"] == ready
            assert {live, ready} <= served, f"{name}: a probe path the service does not serve"
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert container[probe]["httpGet"]["port"] in ports
        else:
            assert kind not in ours


def test_the_worker_probe_is_in_the_image() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "docker/healthcheck_worker.py /app/docker/healthcheck_worker.py" in dockerfile
    assert Path(ROOT / "docker" / "healthcheck_worker.py").is_file()


def _sleep_before_stop(container: dict[str, object]) -> float:
    lifecycle = container.get("lifecycle")
    if not isinstance(lifecycle, dict):
        return 0.0
    command = lifecycle["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    return float(command[1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workers_drain_before_they_are_killed(overlay: str) -> None:
    """A rolling update or scale-down stops a worker with SIGTERM; its session worker and then
    its roster worker each finish running activities for up to GRACEFUL_SHUTDOWN_S
    (services/worker/__main__.py, services/worker/worker.py) before SIGKILL may come."""
    worker = deployments(overlay)["worker"]
    configured = environment(overlay, "worker")["GRACEFUL_SHUTDOWN_S"]
    assert configured is not None
    graceful = max(float(configured), WorkerSettings.model_fields["graceful_shutdown_s"].default)
    grace = pod_spec(worker)["terminationGracePeriodSeconds"]
    assert grace > 2 * graceful, f"grace {grace}s <= 2 x GRACEFUL_SHUTDOWN_S {graceful}s"
    rolling = worker["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0, "an update must start a worker before draining one"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_streams_close_before_the_gateway_is_killed(overlay: str) -> None:
    gateway = pod_spec(deployments(overlay)["gateway"])
    graceful = environment(overlay, "gateway")["GATEWAY_GRACEFUL_TIMEOUT"]
    assert graceful is not None
    pause = _sleep_before_stop(gateway["containers"][0])
    assert gateway["terminationGracePeriodSeconds"] > pause + float(graceful)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaled_deployments_leave_replicas_to_the_autoscaler(overlay: str) -> None:
    scalers = of_kind(overlay, "HorizontalPodAutoscaler")
    budgets = of_kind(overlay, "PodDisruptionBudget")
    assert set(scalers) == {"gateway", "worker"}
    assert set(budgets) == {"gateway", "worker", "mcp"}
    for name, budget in budgets.items():
        pod_labels = deployments(overlay)[name]["spec"]["template"]["metadata"]["labels"]
        selector = budget["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items(), f"{name}: the budget selects no pod"
    for name, scaler in scalers.items():
        target = scaler["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        deployment = deployments(overlay)[name]
        assert "replicas" not in deployment["spec"], f"{name}: an apply would reset the HPA"
        assert 1 <= scaler["spec"]["minReplicas"] <= scaler["spec"]["maxReplicas"]
    assert scalers["worker"]["spec"]["minReplicas"] >= 2, "a lone worker has nowhere to fail over"
