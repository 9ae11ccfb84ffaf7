"""Request bodies as the SDK sends them (reference Appendix A), validated with pydantic.

Top-level bodies forbid unknown fields like the real API (its 422 names `extra_forbidden`);
nested objects (tools, entries, chunks) allow extras so newer SDK fields pass through.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- tools -------------------------------------------------------------------------------------


class FunctionSpec(_Open):
    name: str
    parameters: dict[str, Any]
    description: str | None = None
    strict: bool | None = None


class FunctionTool(_Open):
    type: Literal["function"] = "function"
    function: FunctionSpec


class BuiltinTool(_Open):
    type: Literal["web_search", "web_search_premium", "code_interpreter", "image_generation"]
    tool_configuration: dict[str, Any] | None = None


class DocumentLibraryTool(_Open):
    type: Literal["document_library"] = "document_library"
    library_ids: list[str]
    tool_configuration: dict[str, Any] | None = None


class ConnectorTool(_Open):
    type: Literal["connector"] = "connector"
    connector_id: str
    authorization: dict[str, Any] | None = None
    tool_configuration: dict[str, Any] | None = None


Tool = Annotated[
    FunctionTool | BuiltinTool | DocumentLibraryTool | ConnectorTool,
    Field(discriminator="type"),
]


# --- conversation entries -------------------------------------------------------------------


class _Entry(_Open):
    object: Literal["entry"] = "entry"
    id: str | None = None
    created_at: str | None = None
    completed_at: str | None = None


class MessageInputEntry(_Entry):
    type: Literal["message.input"] = "message.input"
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]
    prefix: bool = False


class MessageOutputEntry(_Entry):
    type: Literal["message.output"] = "message.output"
    content: str | list[dict[str, Any]]
    role: Literal["assistant"] = "assistant"
    agent_id: str | None = None
    model: str | None = None


class FunctionResultEntry(_Entry):
    type: Literal["function.result"] = "function.result"
    tool_call_id: str
    result: str


class FunctionCallEntry(_Entry):
    type: Literal["function.call"] = "function.call"
    tool_call_id: str
    name: str
    arguments: str | dict[str, Any]
    agent_id: str | None = None
    model: str | None = None


class ToolExecutionEntry(_Entry):
    type: Literal["tool.execution"] = "tool.execution"
    name: str
    arguments: str
    info: dict[str, Any] | None = None
    agent_id: str | None = None
    model: str | None = None


class AgentHandoffEntry(_Entry):
    type: Literal["agent.handoff"] = "agent.handoff"
    previous_agent_id: str
    previous_agent_name: str
    next_agent_id: str
    next_agent_name: str


def _entry_kind(value: Any) -> str | None:
    """The entry's `type`, inferred from its fields when a hand-written dict leaves it out."""
    if not isinstance(value, dict):
        return getattr(value, "type", None)
    kind = value.get("type")
    if isinstance(kind, str):
        return kind
    if "result" in value and "tool_call_id" in value:
        return "function.result"
    if "tool_call_id" in value:
        return "function.call"
    if "next_agent_id" in value:
        return "agent.handoff"
    if "role" in value:
        return "message.input" if value.get("role") == "user" else "message.output"
    return None


InputEntry = Annotated[
    Annotated[MessageInputEntry, Tag("message.input")]
    | Annotated[MessageOutputEntry, Tag("message.output")]
    | Annotated[FunctionResultEntry, Tag("function.result")]
    | Annotated[FunctionCallEntry, Tag("function.call")]
    | Annotated[ToolExecutionEntry, Tag("tool.execution")]
    | Annotated[AgentHandoffEntry, Tag("agent.handoff")],
    Discriminator(_entry_kind),
]

Inputs = str | list[InputEntry]


# --- conversations --------------------------------------------------------------------------


class ToolConfirmation(_Open):
    tool_call_id: str
    confirmation: Literal["allow", "deny"]


class ConversationStart(_Body):
    inputs: Inputs
    stream: bool = False
    store: bool | None = None
    handoff_execution: Literal["client", "server"] | None = None
    instructions: str | None = None
    tools: list[Tool] | None = None
    completion_args: dict[str, Any] | None = None
    guardrails: list[dict[str, Any]] | None = None
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    agent_id: str | None = None
    agent_version: int | str | None = None
    model: str | None = None

    @model_validator(mode="after")
    def _agent_or_model(self) -> ConversationStart:
        if bool(self.agent_id) == bool(self.model):
            raise ValueError("Exactly one of agent_id or model must be provided")
        return self


class ConversationAppend(_Body):
    inputs: Inputs | None = None
    stream: bool = False
    store: bool | None = True
    handoff_execution: Literal["client", "server"] | None = "server"
    completion_args: dict[str, Any] | None = None
    tool_confirmations: list[ToolConfirmation] | None = None


class ConversationRestart(_Body):
    from_entry_id: str
    inputs: Inputs | None = None
    stream: bool = False
    store: bool | None = True
    handoff_execution: Literal["client", "server"] | None = "server"
    completion_args: dict[str, Any] | None = None
    guardrails: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    agent_version: int | str | None = None


# --- agents ---------------------------------------------------------------------------------


class AgentCreate(_Body):
    model: str
    name: str
    instructions: str | None = None
    tools: list[Tool] | None = None
    completion_args: dict[str, Any] | None = None
    guardrails: list[dict[str, Any]] | None = None
    description: str | None = None
    handoffs: list[str] | None = None
    metadata: dict[str, Any] | None = None
    version_message: str | None = None


class AgentUpdate(_Body):
    model: str | None = None
    name: str | None = None
    instructions: str | None = None
    tools: list[Tool] | None = None
    completion_args: dict[str, Any] | None = None
    guardrails: list[dict[str, Any]] | None = None
    description: str | None = None
    handoffs: list[str] | None = None
    deployment_chat: bool | None = None
    metadata: dict[str, Any] | None = None
    version_message: str | None = None


# --- chat completions -----------------------------------------------------------------------


class ChatMessage(_Open):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class ChatCompletionRequest(_Open):
    """Chat takes dozens of sampling options; only these shape the simulated answer."""

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    tools: list[FunctionTool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None


class AgentCompletionRequest(_Open):
    agent_id: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    tools: list[FunctionTool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
