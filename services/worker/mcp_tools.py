"""The MCP side: tool calls, tool listings and prompts, over streamable HTTP or stdio.

ONE MCP session per server per worker process, shared by every call. A new session costs an
`initialize` and, because mcp 2.x validates each tool result against the tool's output schema, a
`tools/list` and a schema compile: measured at 5x the worker CPU of a call on a reused session.

anyio's cancel scopes belong to the task that entered them, so one owner task opens the session,
publishes it and holds it open; calls from any task share it (requests are multiplexed by id).
When the session breaks (the server is down or restarted: the SDK ends the whole session on a
transport error), calls in flight fail at once with `McpUnavailable` and the next call opens a
new session, one for all the callers waiting on it.

Over HTTP every request carries the server's headers (the NutriSense server's shared secret,
`Authorization: Bearer`), set once on ONE HTTP client. They live only in this process: not in
activity inputs, events or history, and neither httpx nor its telemetry records request headers.
Over stdio the server is a child process (`StdioTransport`): when it dies its session ends like
a broken HTTP one, and the next call starts it again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

import httpx2
from mcp import ClientSession, MCPError
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.types import (
    CONNECTION_CLOSED,
    CallToolResult,
    GetPromptResult,
    PaginatedRequestParams,
    RequestParamsMeta,
    TextContent,
    Tool,
)
from pydantic import SecretStr

from services.mcp_server.auth_token import UNAUTHORIZED_CODE
from services.worker.errors import cause_text

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0


class McpAuthError(PermissionError):
    """The MCP server refused this worker's token. An OSError, so the tool-call activity reports
    it as the tool being unavailable, with this message, rather than as a bug."""


class McpUnavailable(ConnectionError):
    """No MCP session could be opened, or it broke under a call. An OSError, so the tool-call
    activity reports it as the tool being unavailable."""


class _Live:
    """One session's life: `ready` once it is published or failed to open; `ended` once its
    receive loop or its owner task stopped, so the next caller opens a new one."""

    def __init__(self) -> None:
        self.session: ClientSession | None = None
        self.error: Exception | None = None
        self.ready = asyncio.Event()
        self.stop = asyncio.Event()
        self.ended = False
        self.task: asyncio.Task[None] | None = None

    def end(self) -> None:
        self.ended = True
        self.stop.set()
        self.ready.set()


class _Dispatcher(JSONRPCDispatcher):
    """Ends the session's life when its receive loop stops. Every break shows there, even one
    the owner task is not told of: the transport's writer dies on a failed notification POST
    (a cancel sent while the server is down) and only closes the stream."""

    def __init__(self, read: Any, write: Any, live: _Live) -> None:
        super().__init__(read, write)
        self._live = live

    async def run(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().run(*args, **kwargs)
        finally:
            # Not `ready`: the owner records why first, for the callers waiting on it.
            self._live.ended = True
            self._live.stop.set()


def _leaf(error: BaseException) -> BaseException:
    # The transport's task groups wrap the cause twice; a refusal is the reason to report.
    if isinstance(error, BaseExceptionGroup):
        refused = error.subgroup(McpAuthError)
        return _leaf((refused or error).exceptions[0])
    return error


# Idle pooled connections are dropped before uvicorn's 5 s keep-alive (what most Python MCP
# servers run on) closes them: a request sent on a connection the server is closing fails with a
# ReadError, and a transport error breaks the whole shared MCP session and its calls in flight.
# The pool's sizes are httpx's defaults.
HTTP_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0)


class HttpTransport:
    """Streamable HTTP through ONE client that carries the server's headers."""

    def __init__(self, url: str, headers: dict[str, str], timeout_s: float) -> None:
        self.url = url
        # Messages name the server without what a URL may carry (a token in its query).
        self.label = url.split("?", 1)[0]
        self._http = httpx2.AsyncClient(
            headers=headers,
            timeout=httpx2.Timeout(timeout_s, connect=5.0),
            limits=HTTP_LIMITS,
        )

    def open(self) -> AbstractAsyncContextManager[Any]:
        return streamable_http_client(self.url, http_client=self._http, terminate_on_close=False)

    async def aclose(self) -> None:
        await self._http.aclose()


class StdioTransport:
    """A child process the session starts, over its stdin and stdout (stderr: the worker's)."""

    def __init__(self, params: StdioServerParameters, label: str) -> None:
        self.params = params
        self.label = label

    def open(self) -> AbstractAsyncContextManager[Any]:
        return stdio_client(self.params)

    async def aclose(self) -> None:
        return None


Transport = HttpTransport | StdioTransport


class McpTools:
    def __init__(
        self,
        url: str = "",
        *,
        auth_token: SecretStr | None = None,
        timeout_s: float = 30.0,
        transport: Transport | None = None,
    ) -> None:
        """The NutriSense server at `url` with its shared secret (None only for a server run
        with auth disabled), or any server through `transport`."""
        if transport is None:
            headers = {}
            if auth_token is not None:
                headers["Authorization"] = f"Bearer {auth_token.get_secret_value()}"
            else:
                logger.warning(
                    "MCP_AUTH_TOKEN is not set: MCP requests go without credentials, and the "
                    "MCP server refuses them unless it runs with MCP_AUTH_DISABLED=true"
                )
            transport = HttpTransport(url, headers, timeout_s)
        self.transport = transport
        self.url = transport.label
        self._live: _Live | None = None
        self._closed = False

    async def aclose(self) -> None:
        self._closed = True
        live, self._live = self._live, None
        if live is not None and live.task is not None:
            live.stop.set()
            if live.session is None:
                live.task.cancel()  # still opening: nothing to close cleanly
            _, pending = await asyncio.wait([live.task], timeout=CLOSE_TIMEOUT_S)
            for task in pending:
                task.cancel()
        await self.transport.aclose()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[ClientSession]:
        """The shared session. A broken session or a refused token leaves as McpUnavailable or
        McpAuthError, which the tool-call activity reports as the tool being unavailable."""
        session = await self._shared()
        try:
            yield session
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                raise McpUnavailable(f"the MCP session with {self.url} closed: {exc}") from exc
            if exc.code == UNAUTHORIZED_CODE:  # the server's token changed under this session
                raise self._auth_error(exc.message) from None
            raise

    async def _shared(self) -> ClientSession:
        if self._closed:
            raise McpUnavailable("the worker's MCP client is closed")
        live = self._live
        if live is None or live.ended:
            # No await between the check and this: concurrent callers share one new session.
            live = self._live = new = _Live()
            # A context of its own: the session must not carry the first caller's trace or
            # activity context for the rest of the process.
            new.task = asyncio.create_task(
                self._own(new), name="mcp-session", context=contextvars.Context()
            )
            new.task.add_done_callback(lambda _: new.end())  # even if cancelled before it ran
        await live.ready.wait()
        if live.session is not None:
            return live.session
        cause = _leaf(live.error) if live.error is not None else None
        if isinstance(cause, McpAuthError):
            raise McpAuthError(*cause.args) from None
        reason = cause_text(cause) if cause is not None else "closed"
        raise McpUnavailable(f"no MCP session with {self.url}: {reason}") from live.error

    async def _own(self, live: _Live) -> None:
        """The owner task: open, publish, and hold the session until told to stop or it breaks."""
        try:
            async with (
                self.transport.open() as (read, write),
                ClientSession(dispatcher=_Dispatcher(read, write, live)) as session,
            ):
                await self._initialize(session)
                await self._list_all(session)  # caches the output schemas for every call
                live.session = session
                live.ready.set()
                await live.stop.wait()
        except Exception as exc:
            live.error = exc
        finally:
            live.end()
            if live.session is not None and not self._closed:
                cause = repr(_leaf(live.error)) if live.error else "its stream closed"
                logger.warning(
                    "MCP session with %s broke (%s); the next call opens another", self.url, cause
                )

    async def _initialize(self, session: ClientSession) -> None:
        try:
            await session.initialize()
        except MCPError as exc:
            if exc.code != UNAUTHORIZED_CODE:
                raise
            raise self._auth_error(exc.message) from None

    def _auth_error(self, reason: str) -> McpAuthError:
        return McpAuthError(
            f"the MCP server at {self.url} refused this worker ({reason}); "
            "MCP_AUTH_TOKEN must be the same for the workers and the MCP server"
        )

    async def call_tool(
        self, name: str, arguments: dict[str, Any], meta: dict[str, Any], timeout_s: float
    ) -> CallToolResult:
        async with self.session() as session:
            try:
                return await session.call_tool(
                    name,
                    arguments,
                    read_timeout_seconds=timeout_s,
                    meta=cast(RequestParamsMeta, meta),
                )
            except RuntimeError as exc:
                # The SDK checks each result against the output schema this session listed;
                # a server redeployed since may have changed it. List again, so the retry
                # (the activity's, with the same idempotency key) checks the current schema.
                await self._list_all(session)
                raise McpUnavailable(
                    f"the MCP server's answer from {name} did not match the tool as listed "
                    f"({exc}); the listing was refreshed"
                ) from exc

    async def list_tools(self) -> list[Tool]:
        async with self.session() as session:
            return await self._list_all(session)

    @staticmethod
    async def _list_all(session: ClientSession) -> list[Tool]:
        tools: list[Tool] = []
        cursor: str | None = None
        while True:
            params = PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            tools += page.tools
            cursor = page.next_cursor
            if not cursor:
                return tools

    async def prompt_text(self, name: str) -> str:
        async with self.session() as session:
            prompt = await session.get_prompt(name)
        if not isinstance(prompt, GetPromptResult):
            raise RuntimeError(f"MCP prompt {name!r} asked for input instead of answering")
        parts = [
            message.content.text
            for message in prompt.messages
            if isinstance(message.content, TextContent)
        ]
        return "\n\n".join(parts)
