"""What an MCP failure becomes for the tool-call activity (mcp_tools.py), without a server: a
broken or unopenable session as McpUnavailable, a refused token as McpAuthError, and the few
answers the worker reads (prompts, paged tool listings)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

import pytest
import uvicorn
from mcp import ClientSession, MCPError
from mcp.types import (
    CONNECTION_CLOSED,
    GetPromptResult,
    ImageContent,
    ListToolsResult,
    PaginatedRequestParams,
    PromptMessage,
    TextContent,
    Tool,
)
from pydantic import SecretStr

from services.mcp_server.auth_token import UNAUTHORIZED_CODE
from services.worker.mcp_tools import (
    HttpTransport,
    McpAuthError,
    McpTools,
    McpUnavailable,
    Transport,
    _leaf,
)

REFUSAL = (
    "the MCP server at http://mcp.test/mcp refused this worker (bad token); "
    "MCP_AUTH_TOKEN must be the same for the workers and the MCP server"
)


class Unopenable:
    """A transport whose every open fails with `error`."""

    label = "http://mcp.test/mcp"

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.opened = 0

    def open(self) -> AbstractAsyncContextManager[Any]:
        @asynccontextmanager
        async def failing() -> AsyncIterator[Any]:
            self.opened += 1
            raise self.error
            yield  # an async generator, never reached

        return failing()

    async def aclose(self) -> None:
        return None


def tools_over(transport: object) -> McpTools:
    return McpTools(transport=cast(Transport, transport))


def sharing(tools: McpTools, session: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `session` the tools' open, shared session."""

    async def shared() -> ClientSession:
        return cast(ClientSession, session)

    monkeypatch.setattr(tools, "_shared", shared)


def tool(name: str) -> Tool:
    return Tool(name=name, input_schema={"type": "object"})


# -- the cause of a failure ------------------------------------------------------------------


def test_the_cause_of_a_failure_is_its_innermost_first_error_or_a_refusal() -> None:
    plain = OSError("down")
    assert _leaf(plain) is plain
    refused = ConnectionRefusedError("refused")
    assert _leaf(ExceptionGroup("a", [ExceptionGroup("b", [refused, OSError("x")])])) is refused
    auth = McpAuthError("bad token")
    nested = ExceptionGroup("a", [OSError("first"), ExceptionGroup("b", [auth])])
    assert _leaf(nested) is auth


# -- opening a session -----------------------------------------------------------------------


async def test_a_session_that_cannot_open_is_unavailable_with_its_cause() -> None:
    transport = Unopenable(ExceptionGroup("tg", [ConnectionRefusedError("refused")]))
    tools = tools_over(transport)
    with pytest.raises(McpUnavailable) as caught:
        await tools.call_tool("food_log", {}, {}, 5.0)
    assert str(caught.value) == (
        "no MCP session with http://mcp.test/mcp: ConnectionRefusedError: refused"
    )
    assert isinstance(caught.value, OSError)  # what the activity reports as ToolUnavailable
    # The next call tries again rather than keeping the failure.
    with pytest.raises(McpUnavailable):
        await tools.list_tools()
    assert transport.opened == 2
    await tools.aclose()


async def test_a_refused_token_at_open_is_an_auth_error_whatever_wraps_it() -> None:
    refusal = McpAuthError(REFUSAL)
    tools = tools_over(Unopenable(ExceptionGroup("a", [ExceptionGroup("b", [refusal])])))
    with pytest.raises(McpAuthError) as caught:
        await tools.call_tool("food_log", {}, {}, 5.0)
    assert str(caught.value) == REFUSAL
    assert caught.value.__cause__ is None
    await tools.aclose()


async def test_a_closed_client_opens_nothing() -> None:
    transport = Unopenable(OSError("never"))
    tools = tools_over(transport)
    await tools.aclose()
    with pytest.raises(McpUnavailable, match=r"^the worker's MCP client is closed$"):
        await tools.list_tools()
    assert transport.opened == 0


# -- failures under a call -------------------------------------------------------------------


class Failing:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def get_prompt(self, name: str) -> GetPromptResult:
        raise self.error


async def test_a_session_that_closes_under_a_call_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tools = tools_over(Unopenable(OSError("unused")))
    sharing(tools, Failing(MCPError(CONNECTION_CLOSED, "Connection closed")), monkeypatch)
    with pytest.raises(McpUnavailable) as caught:
        await tools.prompt_text("coach")
    assert str(caught.value) == "the MCP session with http://mcp.test/mcp closed: Connection closed"


async def test_a_token_the_server_stopped_accepting_is_an_auth_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tools = tools_over(Unopenable(OSError("unused")))
    sharing(tools, Failing(MCPError(UNAUTHORIZED_CODE, "bad token")), monkeypatch)
    with pytest.raises(McpAuthError) as caught:
        await tools.prompt_text("coach")
    assert str(caught.value) == REFUSAL
    assert isinstance(caught.value, OSError)


async def test_another_protocol_error_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tools_over(Unopenable(OSError("unused")))
    error = MCPError(-32602, "invalid params")
    sharing(tools, Failing(error), monkeypatch)
    with pytest.raises(MCPError) as caught:
        await tools.prompt_text("coach")
    assert caught.value is error


class Listing:
    """A session that lists tools in pages and fails calls as a changed output schema does."""

    def __init__(self) -> None:
        self.cursors: list[str | None] = []
        self.pages = {None: (["a", "b"], "p2"), "p2": (["c"], "p3"), "p3": ([], None)}

    async def list_tools(self, params: PaginatedRequestParams | None = None) -> ListToolsResult:
        cursor = params.cursor if params is not None else None
        self.cursors.append(cursor)
        names, next_cursor = self.pages[cursor]
        return ListToolsResult(tools=[tool(n) for n in names], next_cursor=next_cursor)

    async def call_tool(self, name: str, arguments: dict[str, Any], **_: Any) -> Any:
        raise RuntimeError("Invalid structured content returned by tool food_log")


async def test_every_page_of_tools_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tools_over(Unopenable(OSError("unused")))
    session = Listing()
    sharing(tools, session, monkeypatch)
    assert [t.name for t in await tools.list_tools()] == ["a", "b", "c"]
    assert session.cursors == [None, "p2", "p3"]


async def test_an_answer_that_no_longer_fits_the_listing_lists_again_and_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tools = tools_over(Unopenable(OSError("unused")))
    session = Listing()
    sharing(tools, session, monkeypatch)
    with pytest.raises(McpUnavailable) as caught:
        await tools.call_tool("food_log", {"food": "egg"}, {"idempotency_key": "k"}, 5.0)
    assert str(caught.value) == (
        "the MCP server's answer from food_log did not match the tool as listed "
        "(Invalid structured content returned by tool food_log); the listing was refreshed"
    )
    assert session.cursors == [None, "p2", "p3"]


# -- prompts and settings --------------------------------------------------------------------


class Prompting:
    async def get_prompt(self, name: str) -> GetPromptResult:
        assert name == "coach"
        image = ImageContent(type="image", data="aGk=", mime_type="image/png")
        return GetPromptResult(
            messages=[
                PromptMessage(role="user", content=TextContent(type="text", text="Be kind.")),
                PromptMessage(role="user", content=image),
                PromptMessage(role="assistant", content=TextContent(type="text", text="Be brief.")),
            ]
        )


async def test_a_prompt_is_its_text_messages_in_paragraphs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tools = tools_over(Unopenable(OSError("unused")))
    sharing(tools, Prompting(), monkeypatch)
    assert await tools.prompt_text("coach") == "Be kind.\n\nBe brief."


async def test_the_token_goes_in_a_header_and_the_label_drops_the_query() -> None:
    tools = McpTools("http://mcp.test/mcp?key=s3cret", auth_token=SecretStr("t0ken"))
    assert tools.url == "http://mcp.test/mcp"
    transport = tools.transport
    assert isinstance(transport, HttpTransport)
    assert transport._http.headers["Authorization"] == "Bearer t0ken"
    await tools.aclose()


async def test_idle_connections_are_dropped_before_a_uvicorn_server_closes_them() -> None:
    # Reusing a connection the server is closing fails the request and breaks the shared session.
    tools = McpTools("http://mcp.test/mcp", auth_token=SecretStr("t0ken"))
    transport = tools.transport
    assert isinstance(transport, HttpTransport)
    pool = transport._http._transport._pool  # type: ignore[attr-defined]
    server_keep_alive = uvicorn.Config(app=None).timeout_keep_alive  # type: ignore[arg-type]
    assert pool._keepalive_expiry < server_keep_alive
    assert pool._max_connections == 100
    assert pool._max_keepalive_connections == 20
    await tools.aclose()


async def test_no_token_means_no_header_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="services.worker.mcp_tools"):
        tools = McpTools("http://mcp.test/mcp")
    transport = tools.transport
    assert isinstance(transport, HttpTransport)
    assert "authorization" not in transport._http.headers
    assert any("MCP_AUTH_TOKEN is not set" in r.getMessage() for r in caplog.records)
    await tools.aclose()
