"""What deploy/k8s gives Temporal: the platform's search attributes wherever deploy/k8s runs or
documents a Temporal, and credentials (API key or mTLS) in every pod that connects to it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from services.common.sessions import SEARCH_ATTRIBUTES
from tests.unit.deploy.manifests import K8S, ROOT, deployments, kubectl, pod_spec

TLS_DIR = "/var/run/secrets/durable-agents/temporal-tls"
CONNECTS_TO_TEMPORAL = {"gateway", "worker"}


def test_the_local_dev_server_registers_the_search_attributes() -> None:
    command = pod_spec(deployments("local")["temporal"])["containers"][0]["command"]
    flags = [arg.removeprefix("--search-attribute=") for arg in command if "search-attr" in arg]
    assert dict(flag.split("=", 1) for flag in flags) == SEARCH_ATTRIBUTES


def test_the_readme_lists_the_search_attributes_to_create() -> None:
    readme = (K8S / "README.md").read_text()
    table = dict(re.findall(r"^ *\| `(\w+)` \| `(\w+)` \|$", readme, flags=re.MULTILINE))
    assert table == SEARCH_ATTRIBUTES
    loop = re.search(r"for pair in ([^;]+); do", readme)
    assert loop is not None
    assert dict(pair.split("=", 1) for pair in loop.group(1).split()) == SEARCH_ATTRIBUTES


def test_an_api_key_reaches_every_pod_that_connects_to_temporal() -> None:
    for overlay in ("local", "production"):
        for name, deployment in deployments(overlay).items():
            env = pod_spec(deployment)["containers"][0].get("env", [])
            refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}
            if name in CONNECTS_TO_TEMPORAL:
                assert refs["TEMPORAL_API_KEY"]["optional"] is True, name
            else:
                assert "TEMPORAL_API_KEY" not in refs, name


def _with_mtls(tmp_path: Path) -> list[dict[str, object]]:
    """Production plus the mTLS component, as an operator's own overlay would combine them."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    relative = Path(os.path.relpath(K8S, overlay))
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [str(relative / "overlays" / "production")],
                "components": [str(relative / "components" / "temporal-mtls")],
            }
        )
    )
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    validator = ROOT / ".venv" / "bin" / "kubernetes-validate"
    checked = subprocess.run(
        [str(validator), "--strict", "--quiet", "-k", "1.30.0", "-"],
        input=rendered.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "WARN" not in checked.stdout + checked.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def test_the_mtls_component_mounts_the_certificate_where_the_variables_say(
    tmp_path: Path,
) -> None:
    manifests = _with_mtls(tmp_path)
    common = next(
        m for m in manifests if m["kind"] == "ConfigMap" and "common-config" in str(m["metadata"])
    )
    data = common["data"]
    assert isinstance(data, dict)
    assert data["TEMPORAL_TLS_CLIENT_CERT_PATH"] == f"{TLS_DIR}/tls.crt"
    assert data["TEMPORAL_TLS_CLIENT_KEY_PATH"] == f"{TLS_DIR}/tls.key"
    for manifest in manifests:
        if manifest["kind"] != "Deployment":
            continue
        spec = manifest["spec"]["template"]["spec"]  # type: ignore[index]
        mounts = {m["mountPath"]: m for m in spec["containers"][0].get("volumeMounts", [])}
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        name = manifest["metadata"]["name"]  # type: ignore[index]
        if name in CONNECTS_TO_TEMPORAL:
            mount = mounts[TLS_DIR]
            assert mount["readOnly"] is True
            assert volumes[mount["name"]]["secret"]["secretName"] == "temporal-tls"
        else:
            assert TLS_DIR not in mounts, name
