from __future__ import annotations

import pytest

from services.common.settings import load_settings
from services.worker.settings import MISTRAL_API_URL, SIMULATOR_URL, WorkerSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MISTRAL_API_KEY",
        "MISTRAL_SERVER_URL",
        "MISTRAL_SIMULATOR_URL",
        "APPROVAL_TOOLS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_no_key_means_the_simulator() -> None:
    settings = load_settings(WorkerSettings)
    assert settings.uses_simulator
    assert settings.mistral_url == SIMULATOR_URL


def test_a_key_means_the_real_api_and_stays_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-very-secret")
    settings = load_settings(WorkerSettings)
    assert not settings.uses_simulator
    assert settings.mistral_url == MISTRAL_API_URL
    assert settings.mistral_key == "sk-very-secret"
    assert "sk-very-secret" not in repr(settings)


def test_blank_key_and_url_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", "")
    monkeypatch.setenv("MISTRAL_SERVER_URL", " ")
    settings = load_settings(WorkerSettings)
    assert settings.uses_simulator
    assert settings.mistral_url == SIMULATOR_URL


def test_explicit_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", "k")
    monkeypatch.setenv("MISTRAL_SERVER_URL", "http://proxy:9999")
    assert load_settings(WorkerSettings).mistral_url == "http://proxy:9999"


def test_approval_tools_are_a_clean_sorted_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPROVAL_TOOLS", " food_log, ,goal_setting,food_log ")
    assert load_settings(WorkerSettings).approval_tool_names == ["food_log", "goal_setting"]


def test_simulator_url_is_configurable_for_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_SIMULATOR_URL", "http://mistral-sim:8800")
    monkeypatch.setenv("MISTRAL_SERVER_URL", "")
    assert load_settings(WorkerSettings).mistral_url == "http://mistral-sim:8800"
    monkeypatch.setenv("MISTRAL_API_KEY", "k")
    assert load_settings(WorkerSettings).mistral_url == MISTRAL_API_URL


def test_the_session_workflow_runs_outside_the_sandbox_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from temporalio.worker import UnsandboxedWorkflowRunner
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

    from services.worker.worker import session_runner

    monkeypatch.delenv("WORKFLOW_SANDBOX", raising=False)
    assert isinstance(session_runner(load_settings(WorkerSettings)), UnsandboxedWorkflowRunner)
    monkeypatch.setenv("WORKFLOW_SANDBOX", "true")
    assert isinstance(session_runner(load_settings(WorkerSettings)), SandboxedWorkflowRunner)


def test_the_build_id_names_the_code_and_can_be_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.worker.worker import code_build_id

    assert code_build_id() == code_build_id()
    assert code_build_id().startswith("durable-agents-")
    monkeypatch.setenv("WORKER_BUILD_ID", "release-42")
    assert load_settings(WorkerSettings).worker_build_id == "release-42"
