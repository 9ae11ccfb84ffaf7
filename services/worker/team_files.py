"""Agent teams as files: one YAML file per team in `AGENT_TEAMS_DIR` (teams/ by default).

A team file names the team's agents, where each one's instructions come from (an MCP prompt or
inline text), the tools each may use (`server/tool`, `server/*` or a Mistral built-in), whom each
may hand off to and which tools wait for a person's approval, plus the MCP servers those come
from (streamable HTTP or a stdio command). Files are checked when a worker starts; a bad one
stops it with one line naming the file and the field (`TeamFileError`).

`${VAR}` (or `${VAR:-default}`) in a server's settings reads the environment. It is resolved
only where a connection is made (services/worker/mcp_servers.py), so a secret never enters
workflow inputs, history or events; here it is only checked to be set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)

from services.common.settings import ConfigError

BUILTIN_TOOLS = frozenset(
    {"web_search", "web_search_premium", "code_interpreter", "image_generation"}
)
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
TEAM_FILE_SUFFIXES = (".yaml", ".yml")

Lookup = Callable[[str], str | None]


class TeamFileError(ConfigError):
    """A team file that cannot be used: one line, naming the file and the field."""


class _Spec(BaseModel):
    # Unknown fields are an error: a typo such as `handofs` must not pass silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpServer(_Spec):
    """An MCP server over streamable HTTP."""

    url: Text
    headers: dict[str, str] = Field(default_factory=dict)


class StdioServer(_Spec):
    """An MCP server the worker starts as a child process and talks to over stdin/stdout."""

    command: Text
    args: tuple[str, ...] = ()
    # Merged over what the command needs to run (PATH, HOME, locale: mcp_servers.py).
    env: dict[str, str] = Field(default_factory=dict)
    # Relative to the team file's directory.
    cwd: str | None = None


def _transport(value: Any) -> str | None:
    if isinstance(value, dict):
        return "url" if "url" in value else "command" if "command" in value else None
    return "url" if isinstance(value, HttpServer) else "command"


McpServer = Annotated[
    Annotated[HttpServer, Tag("url")] | Annotated[StdioServer, Tag("command")],
    Discriminator(
        _transport,
        custom_error_type="mcp_server",
        custom_error_message="an MCP server has `url` (streamable HTTP) or `command` (stdio)",
    ),
]


class AgentSpec(_Spec):
    name: Name
    description: str = ""
    # Instructions: the text of an MCP prompt (`server/prompt`), inline text, or the prompt's
    # text followed by the inline text when both are given.
    prompt: str | None = None
    instructions: Text | None = None
    model: Text | None = None  # default: the team's
    tools: tuple[str, ...] = ()  # `server/tool`, `server/*` or a Mistral built-in
    handoffs: tuple[Name, ...] = ()
    approval: tuple[str, ...] = ()  # tools (as in `tools`) that wait for a person's approval

    @model_validator(mode="after")
    def _has_instructions(self) -> AgentSpec:
        if self.prompt is None and self.instructions is None:
            raise ValueError("give `prompt` (an MCP prompt), `instructions`, or both")
        return self


class Team(_Spec):
    name: Name
    description: str = ""
    entry: Name  # the agent every conversation starts on
    model: Text | None = None  # default: the worker's AGENT_MODEL
    mcp_servers: dict[Name, McpServer] = Field(default_factory=dict)
    agents: dict[Name, AgentSpec] = Field(min_length=1)
    # Where the file is, for messages and relative paths (not part of the file).
    source: str = ""

    @model_validator(mode="before")
    @classmethod
    def _agents_know_their_names(cls, data: Any) -> Any:
        agents = data.get("agents") if isinstance(data, dict) else None
        if isinstance(agents, dict):
            data = {
                **data,
                "agents": {
                    key: {"name": key, **value} if isinstance(value, dict) else value
                    for key, value in agents.items()
                },
            }
        return data

    def agent(self, name: str) -> AgentSpec:
        return self.agents[name]

    def agent_model(self, spec: AgentSpec, default: str) -> str:
        return spec.model or self.model or default


class TeamSet:
    """The teams a worker serves, by name."""

    def __init__(self, teams: list[Team]) -> None:
        self.teams = {team.name: team for team in teams}

    def get(self, name: str) -> Team | None:
        return self.teams.get(name)

    def names(self) -> list[str]:
        return sorted(self.teams)

    def __iter__(self) -> Iterator[Team]:
        return iter(self.teams.values())


# -- references --------------------------------------------------------------------------------


def split_ref(ref: str) -> tuple[str, str]:
    """`server/name` as its two parts (a tool's own name may hold more slashes)."""
    server, _, name = ref.partition("/")
    return server, name


def tool_ref_problem(ref: str, team: Team) -> str | None:
    if "/" not in ref:
        if ref in BUILTIN_TOOLS:
            return None
        return (
            f"{ref!r} is neither `server/tool`, `server/*` nor a Mistral built-in "
            f"({', '.join(sorted(BUILTIN_TOOLS))})"
        )
    server, name = split_ref(ref)
    if server not in team.mcp_servers:
        return f"{ref!r} names no server of this team's `mcp_servers` ({_listing(team)})"
    if not name:
        return f"{ref!r} names no tool (`{server}/<tool>` or `{server}/*`)"
    return None


def covers(tools: tuple[str, ...], ref: str) -> bool:
    """Whether an agent's tools include `ref` (itself, or its server's `server/*`)."""
    return ref in tools or ("/" in ref and f"{split_ref(ref)[0]}/*" in tools)


def _listing(team: Team) -> str:
    return ", ".join(sorted(team.mcp_servers)) or "none declared"


# -- checks across fields ----------------------------------------------------------------------


def team_problems(team: Team) -> Iterator[tuple[str, str]]:
    """(field, problem) for what the schema alone cannot see: names that must exist."""
    if team.entry not in team.agents:
        yield "entry", f"no agent named {team.entry!r} in `agents`"
    for name, spec in team.agents.items():
        where = f"agents.{name}"
        for index, target in enumerate(spec.handoffs):
            if target == name:
                yield f"{where}.handoffs.{index}", "an agent cannot hand off to itself"
            elif target not in team.agents:
                yield f"{where}.handoffs.{index}", f"no agent named {target!r} in this team"
        if spec.prompt is not None:
            server, prompt = split_ref(spec.prompt)
            if not prompt or server not in team.mcp_servers:
                yield (
                    f"{where}.prompt",
                    f"{spec.prompt!r} is not `server/prompt` with a server of this team's "
                    f"`mcp_servers` ({_listing(team)})",
                )
        for index, ref in enumerate(spec.tools):
            problem = tool_ref_problem(ref, team)
            if problem:
                yield f"{where}.tools.{index}", problem
        for index, ref in enumerate(spec.approval):
            if "/" not in ref or ref.endswith("/*") or not covers(spec.tools, ref):
                yield (
                    f"{where}.approval.{index}",
                    f"{ref!r} is not one of this agent's `tools` (name a `server/tool`)",
                )


def variables_in(value: Any) -> Iterator[str]:
    """Every `${VAR}` (without a default) in a string, or in the strings of a structure."""
    if isinstance(value, str):
        for match in VARIABLE.finditer(value):
            if match.group(2) is None:
                yield match.group(1)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from variables_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from variables_in(item)


def expand(value: str, lookup: Lookup) -> str:
    """`value` with each `${VAR}` / `${VAR:-default}` replaced; a missing one is a KeyError."""

    def one(match: re.Match[str]) -> str:
        found = lookup(match.group(1))
        if found is not None and (found or match.group(2) is None):
            return found
        if match.group(2) is not None:
            return match.group(2)
        raise KeyError(match.group(1))

    return VARIABLE.sub(one, value)


def unset_variables(team: Team, lookup: Lookup) -> Iterator[tuple[str, str]]:
    for name, server in team.mcp_servers.items():
        for field, value in server.model_dump().items():
            for variable in variables_in(value):
                if lookup(variable) is None:
                    yield (
                        f"mcp_servers.{name}.{field}",
                        f"${{{variable}}} is not set in the environment",
                    )


# -- loading -----------------------------------------------------------------------------------


def _first_error(exc: ValidationError) -> tuple[str, str]:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    if loc[:1] == ["mcp_servers"] and len(loc) > 3:
        del loc[2]  # the transport's tag (`url` or `command`): the user did not write it
    field = ".".join(loc) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "string_pattern_mismatch":
        message = "a name is 1-64 lowercase letters, digits, - or _ (starting with no - or _)"
    more = len(exc.errors()) - 1
    return field, message + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def parse_team(text: str, source: str, lookup: Lookup) -> Team:
    """One team file's text as a Team, or TeamFileError naming the file and the field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TeamFileError(f"{source}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise TeamFileError(f"{source}: a team file is a mapping (name, entry, agents, ...)")
    data.setdefault("name", Path(source).stem)
    if "model" in data and isinstance(data["model"], str):
        try:
            data["model"] = expand(data["model"], lookup)
        except KeyError as missing:
            raise TeamFileError(f"{source}: model: ${{{missing.args[0]}}} is not set") from None
    try:
        team = Team.model_validate({**data, "source": source})
    except ValidationError as exc:
        field, message = _first_error(exc)
        raise TeamFileError(f"{source}: {field}: {message}") from None
    for field, problem in [*team_problems(team), *unset_variables(team, lookup)]:
        raise TeamFileError(f"{source}: {field}: {problem}")
    return team


def load_teams(directory: Path, lookup: Lookup) -> TeamSet:
    """Every team file in `directory`; the first bad one stops with TeamFileError."""
    if not directory.is_dir():
        raise TeamFileError(f"AGENT_TEAMS_DIR {directory} is not a directory")
    files = sorted(p for p in directory.iterdir() if p.suffix in TEAM_FILE_SUFFIXES)
    if not files:
        raise TeamFileError(f"AGENT_TEAMS_DIR {directory} holds no team file (*.yaml)")
    teams: dict[str, Team] = {}
    for path in files:
        team = parse_team(path.read_text(encoding="utf-8"), str(path), lookup)
        if team.name in teams:
            raise TeamFileError(
                f"{path}: name: team {team.name!r} is also defined in {teams[team.name].source}"
            )
        teams[team.name] = team
    return TeamSet(list(teams.values()))
