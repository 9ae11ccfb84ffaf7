"""What deploy/k8s gives Temporal: the platform's search attributes wherever deploy/k8s runs or
documents a Temporal, and an API key in every pod that connects to it (mTLS:
test_k8s_components.py)."""

from __future__ import annotations

import re

from services.common.sessions import SEARCH_ATTRIBUTES
from tests.unit.deploy.manifests import K8S, deployments, pod_spec

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
