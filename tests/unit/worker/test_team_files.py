"""Team files (services/worker/team_files.py): the shipped ones load, and each kind of bad file
stops the worker with one line naming the file and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from services.common.settings import ConfigError
from services.worker.settings import DEFAULT_TEAMS_DIR, WorkerSettings
from services.worker.team_files import (
    HttpServer,
    StdioServer,
    Team,
    TeamFileError,
    expand,
    load_teams,
    parse_team,
)

NO_ENV: dict[str, str] = {}
ENV = {"MCP_SERVER_URL": "http://mcp:9000/mcp", "MCP_AUTH_TOKEN": "s3cret-token-0123456789"}

GOOD = """
name: helpers
description: A team to test with.
entry: front
model: mistral-small-latest
mcp_servers:
  docs: {url: "${MCP_SERVER_URL}", headers: {Authorization: "Bearer ${MCP_AUTH_TOKEN}"}}
  clock: {command: mcp-server-time, args: [--local-timezone, "${TZ_NAME:-UTC}"], env: {A: b}}
agents:
  front:
    description: Greets and routes.
    instructions: Hand every question to the right helper.
    handoffs: [reader]
  reader:
    prompt: docs/reader
    model: mistral-large-latest
    tools: [docs/search, docs/write, clock/*, web_search]
    approval: [docs/write]
    handoffs: [front]
"""


def parse(text: str, env: dict[str, str] | None = None) -> Team:
    return parse_team(textwrap.dedent(text), "teams/helpers.yaml", {**ENV, **(env or {})}.get)


def problem(text: str) -> str:
    with pytest.raises(TeamFileError) as caught:
        parse(text)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("teams/helpers.yaml: ")
    return message.removeprefix("teams/helpers.yaml: ")


def test_the_shipped_teams_load() -> None:
    teams = load_teams(DEFAULT_TEAMS_DIR, ENV.get)
    assert teams.names() == ["nutrisense", "time"]
    nutrisense = teams.get("nutrisense")
    assert nutrisense is not None
    assert nutrisense.entry == "router-agent"
    assert len(nutrisense.agents) == 6
    time = teams.get("time")
    assert time is not None
    assert isinstance(time.mcp_servers["time"], StdioServer)
    assert time.agent("time-agent").tools == ("time/*",)


def test_every_nutrisense_specialist_can_hand_off_to_goal_setting() -> None:
    """Mid-conversation "set my goal" must reach goal-setting-agent from whoever answered."""
    team = load_teams(DEFAULT_TEAMS_DIR, ENV.get).get("nutrisense")
    assert team is not None
    for name, spec in team.agents.items():
        if name != "goal-setting-agent":
            assert "goal-setting-agent" in spec.handoffs, name


def test_a_good_file_reads_as_written() -> None:
    team = parse(GOOD)
    assert team.name == "helpers"
    reader = team.agent("reader")
    assert reader.approval == ("docs/write",)
    assert team.agent_model(reader, "default") == "mistral-large-latest"
    assert team.agent_model(team.agent("front"), "default") == "mistral-small-latest"
    # Server settings keep their variables: they are resolved only when a session opens.
    docs = team.mcp_servers["docs"]
    assert isinstance(docs, HttpServer)
    assert docs.url == "${MCP_SERVER_URL}"


def test_the_name_defaults_to_the_file_name_and_the_model_to_the_worker() -> None:
    team = parse_team("entry: a\nagents: {a: {instructions: hi}}\n", "teams/solo.yml", NO_ENV.get)
    assert team.name == "solo"
    assert team.agent_model(team.agent("a"), "mistral-medium-2505") == "mistral-medium-2505"


def test_the_team_model_reads_the_environment() -> None:
    text = "entry: a\nmodel: ${AGENT_MODEL:-m1}\nagents: {a: {instructions: hi}}\n"
    assert parse_team(text, "t.yaml", NO_ENV.get).model == "m1"
    assert parse_team(text, "t.yaml", {"AGENT_MODEL": "m2"}.get).model == "m2"


BAD = {
    "yaml": ("entry: a\nagents: {a: [\n", "not valid YAML at line 3, column 1"),
    "not a mapping": ("- a\n- b\n", "a team file is a mapping"),
    "unknown field": (
        "entry: a\nagents: {a: {instructions: hi, handofs: [b]}}\n",
        "agents.a.handofs: unknown field",
    ),
    "no entry": ("agents: {a: {instructions: hi}}\n", "entry: Field required"),
    "no agents": ("entry: a\nagents: {}\n", "agents: Dictionary should have at least 1 item"),
    "entry unknown": (
        "entry: b\nagents: {a: {instructions: hi}}\n",
        "entry: no agent named 'b' in `agents`",
    ),
    "bad name": (
        "entry: a\nagents: {A Gent: {instructions: hi}}\n",
        "agents.A Gent",
    ),
    "no instructions": (
        "entry: a\nagents: {a: {description: hi}}\n",
        "agents.a: give `prompt` (an MCP prompt), `instructions`, or both",
    ),
    "handoff unknown": (
        "entry: a\nagents: {a: {instructions: hi, handoffs: [b]}}\n",
        "agents.a.handoffs.0: no agent named 'b' in this team",
    ),
    "handoff to itself": (
        "entry: a\nagents: {a: {instructions: hi, handoffs: [a]}}\n",
        "agents.a.handoffs.0: an agent cannot hand off to itself",
    ),
    "tool without server": (
        "entry: a\nagents: {a: {instructions: hi, tools: [food_log]}}\n",
        "agents.a.tools.0: 'food_log' is neither `server/tool`, `server/*` nor a Mistral built-in",
    ),
    "tool of an unknown server": (
        "entry: a\nagents: {a: {instructions: hi, tools: [db/query]}}\n",
        "agents.a.tools.0: 'db/query' names no server of this team's `mcp_servers`",
    ),
    "prompt of an unknown server": (
        "entry: a\nagents: {a: {prompt: db/intro}}\n",
        "agents.a.prompt: 'db/intro' is not `server/prompt`",
    ),
    "approval of a tool the agent lacks": (
        "entry: a\nmcp_servers: {s: {command: c}}\n"
        "agents: {a: {instructions: hi, tools: [s/read], approval: [s/write]}}\n",
        "agents.a.approval.0: 's/write' is not one of this agent's `tools`",
    ),
    "server with no transport": (
        "entry: a\nmcp_servers: {s: {host: h}}\nagents: {a: {instructions: hi}}\n",
        "mcp_servers.s: an MCP server has `url` (streamable HTTP) or `command` (stdio)",
    ),
    "stdio typo": (
        "entry: a\nmcp_servers: {s: {command: c, arg: [x]}}\nagents: {a: {instructions: hi}}\n",
        "mcp_servers.s.arg: unknown field",
    ),
    "header not text": (
        "entry: a\nmcp_servers: {s: {url: u, headers: {A: 1}}}\nagents: {a: {instructions: hi}}\n",
        "mcp_servers.s.headers.A: Input should be a valid string",
    ),
    "variable not set": (
        "entry: a\nmcp_servers: {s: {url: 'https://x/${NOT_SET_ANYWHERE}'}}\n"
        "agents: {a: {instructions: hi}}\n",
        "mcp_servers.s.url: ${NOT_SET_ANYWHERE} is not set in the environment",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_file_is_one_line_naming_the_file_and_the_field(case: str) -> None:
    text, expected = BAD[case]
    assert problem(text).startswith(expected)


def test_a_team_file_error_stops_the_process_like_a_setting() -> None:
    assert issubclass(TeamFileError, ConfigError)
    assert issubclass(TeamFileError, SystemExit)


def test_a_secret_in_a_header_is_never_in_a_message() -> None:
    text = "entry: a\nmcp_servers: {s: {url: u, headers: {A: 'Bearer ${MCP_AUTH_TOKEN}'}, x: 1}}\n"
    message = problem(text + "agents: {a: {instructions: hi}}\n")
    assert ENV["MCP_AUTH_TOKEN"] not in message


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(textwrap.dedent(text))


def test_a_directory_of_teams(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", "entry: a\nagents: {a: {instructions: hi}}\n")
    write(tmp_path, "two.yml", "name: zwei\nentry: b\nagents: {b: {instructions: hi}}\n")
    write(tmp_path, "notes.txt", "not a team")
    assert load_teams(tmp_path, NO_ENV.get).names() == ["one", "zwei"]


def test_two_files_with_one_team_name(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: same\nentry: a\nagents: {a: {instructions: hi}}\n")
    write(tmp_path, "b.yaml", "name: same\nentry: a\nagents: {a: {instructions: hi}}\n")
    with pytest.raises(TeamFileError, match=r"b\.yaml: name: team 'same' is also defined in"):
        load_teams(tmp_path, NO_ENV.get)


def test_an_empty_or_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(TeamFileError, match="holds no team file"):
        load_teams(tmp_path, NO_ENV.get)
    with pytest.raises(TeamFileError, match="is not a directory"):
        load_teams(tmp_path / "nowhere", NO_ENV.get)


def test_variables_expand_with_defaults() -> None:
    env = {"HOST": "h", "EMPTY": ""}.get
    assert expand("http://${HOST}:${PORT:-9000}/x", env) == "http://h:9000/x"
    assert expand("${EMPTY:-fallback}", env) == "fallback"  # as a shell's `:-`
    assert expand("${EMPTY}", env) == ""
    with pytest.raises(KeyError):
        expand("${MISSING}", env)


def test_team_files_read_the_settings_the_worker_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`${MCP_AUTH_TOKEN}` is the token however the worker got it (here MCP_AUTH_TOKEN_FILE),
    `${MCP_SERVER_URL}` and `${AGENT_MODEL}` its settings with their defaults; anything else the
    environment."""
    token = tmp_path / "token"
    token.write_text("file-token-0123456789abcdef\n")
    monkeypatch.delenv("MCP_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("MCP_SERVER_URL", raising=False)
    monkeypatch.setenv("DOCS_TOKEN", "from-the-environment")
    settings = WorkerSettings(mcp_auth_token_file=token)
    assert settings.team_variable("MCP_AUTH_TOKEN") == "file-token-0123456789abcdef"
    assert settings.team_variable("MCP_SERVER_URL") == "http://127.0.0.1:9000/mcp"
    assert settings.team_variable("AGENT_MODEL") == "mistral-medium-2505"
    assert settings.team_variable("DOCS_TOKEN") == "from-the-environment"
    assert settings.team_variable("NOT_SET_ANYWHERE") is None
