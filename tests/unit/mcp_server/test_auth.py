"""The MCP shared secret: settings, the start-up policy, the bearer check, the token file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from services.common.settings import ConfigError, load_settings
from services.mcp_server import auth_token
from services.mcp_server.app import create_app
from services.mcp_server.auth import CONTRADICTION, NO_TOKEN, BearerTokenAuth, server_token
from services.mcp_server.auth_token import TokenError, ensure_token_file, read_token_file
from services.mcp_server.settings import McpServerSettings
from services.worker.settings import WorkerSettings

TOKEN = "unit-test-token-0123456789"


@pytest.fixture(autouse=True)
def _no_token_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MCP_AUTH_TOKEN", "MCP_AUTH_TOKEN_FILE", "MCP_AUTH_DISABLED"):
        monkeypatch.delenv(name, raising=False)


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_cls", [McpServerSettings, WorkerSettings])
def test_both_services_read_the_token_from_the_environment_or_a_file(
    settings_cls: type[McpServerSettings | WorkerSettings],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MCP_AUTH_TOKEN", TOKEN)
    assert load_settings(settings_cls).mcp_auth_secret() == SecretStr(TOKEN)

    monkeypatch.delenv("MCP_AUTH_TOKEN")
    secret_file = tmp_path / "token"
    secret_file.write_text(f"  {TOKEN}\n")
    monkeypatch.setenv("MCP_AUTH_TOKEN_FILE", str(secret_file))
    settings = load_settings(settings_cls)
    assert settings.mcp_auth_secret() == SecretStr(TOKEN)
    assert TOKEN not in repr(settings)  # a SecretStr: never in a log line or a traceback

    monkeypatch.setenv("MCP_AUTH_TOKEN_FILE", " ")
    assert load_settings(settings_cls).mcp_auth_secret() is None  # blank in .env: unset


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"MCP_AUTH_TOKEN": "short"}, "MCP_AUTH_TOKEN is invalid", id="too-short"),
        pytest.param(
            {"MCP_AUTH_TOKEN": "has a space in it, so no header"},
            "MCP_AUTH_TOKEN is invalid",
            id="not-a-header-value",
        ),
        pytest.param(
            {"MCP_AUTH_TOKEN_FILE": "/nonexistent/mcp-token"},
            "MCP_AUTH_TOKEN_FILE is invalid: Value error, cannot read /nonexistent/mcp-token",
            id="missing-file",
        ),
        pytest.param(
            {"MCP_AUTH_TOKEN": TOKEN, "MCP_AUTH_TOKEN_FILE": "{file}"},
            "set MCP_AUTH_TOKEN or MCP_AUTH_TOKEN_FILE, not both",
            id="both",
        ),
    ],
)
def test_an_unusable_token_stops_the_start_with_one_line_naming_the_variable(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text(TOKEN)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(file=secret_file))
    with pytest.raises(ConfigError) as stopped:
        load_settings(McpServerSettings)
    assert expected in stopped.value.message
    assert "\n" not in stopped.value.message
    for value in env.values():
        if not value.startswith(("/", "{")):  # a path is named; a token never is
            assert value not in stopped.value.message


def test_a_file_with_no_usable_token_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(TokenError, match=f"{empty} is empty"):
        read_token_file(empty)
    weak = tmp_path / "weak"
    weak.write_text("secret\n")
    with pytest.raises(TokenError, match=f"the token in {weak} must be at least 16"):
        read_token_file(weak)


# --- the start-up policy -------------------------------------------------------------------


def test_no_token_and_no_opt_out_refuses_to_start() -> None:
    with pytest.raises(ConfigError) as stopped:
        server_token(McpServerSettings())
    assert stopped.value.message == NO_TOKEN
    assert stopped.value.message.startswith("configuration error: MCP_AUTH_TOKEN is not set")
    assert "MCP_AUTH_DISABLED=true" in NO_TOKEN


def test_create_app_refuses_before_it_opens_the_store(tmp_path: Path) -> None:
    """The gunicorn path (`create_app()` per worker) refuses too, not only `python -m`."""
    settings = McpServerSettings(database_url=f"sqlite:///{tmp_path / 'never.db'}")
    with pytest.raises(ConfigError, match="MCP_AUTH_TOKEN is not set"):
        create_app(settings, telemetry=False)
    assert not (tmp_path / "never.db").exists()


def test_the_opt_out_is_explicit_and_excludes_a_token() -> None:
    assert server_token(McpServerSettings(mcp_auth_disabled=True)) is None
    assert server_token(McpServerSettings(mcp_auth_token=SecretStr(TOKEN))) == SecretStr(TOKEN)
    with pytest.raises(ConfigError) as stopped:
        server_token(McpServerSettings(mcp_auth_disabled=True, mcp_auth_token=SecretStr(TOKEN)))
    assert stopped.value.message == CONTRADICTION


# --- the bearer check ----------------------------------------------------------------------


@pytest.fixture
def guarded() -> TestClient:
    async def ok(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [Route("/healthz", ok), Route("/mcp", ok, methods=["GET", "POST"])]
    app = Starlette(routes=routes, middleware=[Middleware(BearerTokenAuth, token=SecretStr(TOKEN))])
    return TestClient(app)


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("", 401),
        (f"Bearer {TOKEN}", 200),
        (f"bearer {TOKEN}", 200),
        (f"BEARER  {TOKEN} ", 200),
        (f"Bearer {TOKEN[:-1]}", 401),
        (f"Bearer {TOKEN}0", 401),
        (f"Token {TOKEN}", 401),
        (TOKEN, 401),
        ("Bearer", 401),
        (b"Bearer " + "\u00e9".encode("latin-1") * 20, 401),  # not ASCII: never the token
    ],
)
def test_only_this_servers_bearer_token_passes(
    guarded: TestClient, authorization: str | bytes | None, status: int
) -> None:
    value = authorization.encode() if isinstance(authorization, str) else authorization
    headers = {} if value is None else {b"authorization": value}
    response = guarded.post("/mcp", headers=headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["www-authenticate"].startswith('Bearer realm="nutrisense-mcp"')
        assert response.json()["error"]["message"].startswith("Unauthorized: ")


def test_healthz_is_open_and_everything_else_is_guarded(guarded: TestClient) -> None:
    assert guarded.get("/healthz").status_code == 200
    assert guarded.get("/mcp").status_code == 401
    assert guarded.get("/healthz/../mcp").status_code == 401
    assert guarded.get("/not-a-route").status_code == 401  # refused before the 404


def test_a_refusal_is_logged_without_the_presented_token(
    guarded: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    guarded.post("/mcp", headers={"authorization": f"Bearer {TOKEN}-a-near-miss"})
    assert "refused an MCP request" in caplog.text
    assert "near-miss" not in caplog.text
    assert TOKEN not in caplog.text


# --- the token file (Compose's one-shot job) -----------------------------------------------


def test_a_new_token_file_is_random_owner_only_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "token"
    assert ensure_token_file(path) is True
    first = read_token_file(path)
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_token_file(path) is False  # a second `up` keeps it: running services agree
    assert read_token_file(path) == first
    other = tmp_path / "other"
    ensure_token_file(other)
    assert read_token_file(other) != first


def test_a_given_token_replaces_the_file_and_an_unusable_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("weak\n")
    assert ensure_token_file(path) is True
    assert read_token_file(path) != "weak"
    assert ensure_token_file(path, TOKEN) is True
    assert read_token_file(path) == TOKEN
    assert ensure_token_file(path, TOKEN) is False
    with pytest.raises(TokenError):
        ensure_token_file(path, "weak")
    assert read_token_file(path) == TOKEN
    assert not list(tmp_path.glob(".*partial"))


def test_the_job_never_prints_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "token"
    assert auth_token.main([str(path)]) == 0
    assert auth_token.main([str(path)]) == 0
    monkeypatch.setenv("MCP_AUTH_TOKEN", TOKEN)
    assert auth_token.main([str(path)]) == 0
    monkeypatch.setenv("MCP_AUTH_TOKEN", "weak")
    assert auth_token.main([str(path)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"mcp auth token: wrote a new one to {path}",
        f"mcp auth token: kept the one in {path}",
        f"mcp auth token: wrote MCP_AUTH_TOKEN to {path}",
    ]
    assert out.err.startswith("mcp auth token: MCP_AUTH_TOKEN: must be at least 16")
    assert TOKEN not in out.out + out.err
    assert read_token_file(path) == TOKEN
