"""The search attributes the gateway lists sessions by are registered wherever Temporal runs."""

from __future__ import annotations

from pathlib import Path

import yaml

from scripts.stack import servers
from services.common.sessions import (
    CREATED_ATTRIBUTE,
    SEARCH_ATTRIBUTES,
    TENANT_ATTRIBUTE,
    USER_ATTRIBUTE,
)

ROOT = Path(__file__).resolve().parents[3]


def test_each_attribute_is_registered_with_the_type_of_its_key() -> None:
    keys = (TENANT_ATTRIBUTE, USER_ATTRIBUTE, CREATED_ATTRIBUTE)
    registered = {key.name: key.indexed_value_type.name.capitalize() for key in keys}
    assert registered == SEARCH_ATTRIBUTES


def test_compose_namespace_job_registers_the_same_attributes() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    job = compose["services"]["temporal-namespace"]
    pairs = job["environment"]["TEMPORAL_SEARCH_ATTRIBUTES"].split()
    assert dict(pair.split("=", 1) for pair in pairs) == SEARCH_ATTRIBUTES
    script = (ROOT / "docker" / "temporal" / "create-namespace.sh").read_text()
    assert "TEMPORAL_SEARCH_ATTRIBUTES" in script
    assert "temporal operator search-attribute create" in script


def test_the_local_stack_registers_them() -> None:
    """start-dev takes them as flags (the test fixtures start the same command)."""
    source = Path(servers.__file__).read_text()
    assert '"--search-attribute", f"{name}={kind}"' in source
    assert "SEARCH_ATTRIBUTES.items()" in source
