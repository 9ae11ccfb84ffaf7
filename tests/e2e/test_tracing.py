"""One trace per turn (services/common/turn_trace.py), received by a collector of the test's own.

Every service exports OTLP to the test. A NutriSense turn that calls a tool must be one trace:
the gateway's request, the Temporal update, the workflow's turn and its activities, the model
call with its GenAI attributes, the MCP client call and the MCP server's span for the tool, and
the publish of the turn's end. A worker killed and replaced replays the session's history and
adds no span to a finished turn's trace. No secret or user text is in any attribute.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from scripts.stack.local import DEV_API_KEY, LocalStack, Ports
from scripts.stack.processes import poll
from tests.e2e.client import Api
from tests.fixtures.otlp import Collector, Span, otlp_collector

pytestmark = pytest.mark.e2e

TOOL_TURN = "How is my progress today?"
SECOND_TURN = "Set my calorie goal to 2100 calories."


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, Collector]]:
    with otlp_collector() as (collector, endpoint):
        local = LocalStack(
            tmp_path_factory.mktemp("tracing"),
            Ports.free(),
            workers=1,
            temporal_ui=False,
            extra_env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                # Spans leave each process within 0.2 s rather than 5 s.
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "LOG_FORMAT": "json",
            },
        )
        local.start()
        try:
            yield local, collector
        finally:
            local.stop()


@pytest.fixture
async def api(traced: tuple[LocalStack, Collector]) -> AsyncIterator[Api]:
    client = Api(traced[0].gateway_url, DEV_API_KEY)
    yield client
    await client.aclose()


def request_span(collector: Collector, sid: str, seen: set[str]) -> Span | None:
    """The gateway's span for a POST of a message to `sid` (a trace's root) not in `seen`."""
    for span in collector.snapshot():
        route = str(span.attributes.get("http.route", ""))
        if (
            span.service == "gateway"
            and span.parent_id == ""
            and span.attributes.get("http.method") == "POST"
            and route.endswith("/messages")
            and sid in str(span.attributes.get("http.target", ""))
            and span.span_id not in seen
        ):
            return span
    return None


def named(spans: list[Span], name: str) -> list[Span]:
    return [s for s in spans if s.name == name]


def ancestors(spans: list[Span], span: Span) -> list[str]:
    by_id = {s.span_id: s for s in spans}
    names = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        names.append(span.name)
    return names


def turn_done(collector: Collector, trace_id: str) -> bool:
    """The turn's end was published: its publish span and the Redis call under it arrived."""
    spans = collector.trace(trace_id)
    ends = [
        s
        for s in named(spans, "RunActivity:publish_event")
        if s.attributes.get("event.type") == "turn.completed"
    ]
    return any(s.parent_id == end.span_id for end in ends for s in spans)


async def one_turn(collector: Collector, api: Api, sid: str, text: str) -> tuple[str, list[Span]]:
    seen = {s.span_id for s in collector.snapshot()}
    turn = await api.stream_turn(sid, text)
    assert turn.types[-1] == "turn.completed", turn.types
    assert poll(lambda: request_span(collector, sid, seen) is not None, 20)
    root = request_span(collector, sid, seen)
    assert root is not None
    assert turn.turn_id is not None
    assert poll(lambda: turn_done(collector, root.trace_id), 20), sorted(
        s.name for s in collector.trace(root.trace_id)
    )
    return turn.turn_id, collector.trace(root.trace_id)


def log_lines(local: LocalStack, name: str) -> list[dict[str, Any]]:
    lines = []
    for raw in (local.log_dir / f"{name}.log").read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def tool_line(local: LocalStack, sid: str, turn_id: str) -> dict[str, Any] | None:
    for line in log_lines(local, "worker-1"):
        if line.get("tool") and (line.get("session_id"), line.get("turn_id")) == (sid, turn_id):
            return line
    return None


def assert_one_tree(spans: list[Span]) -> Span:
    """Every span's parent is in the trace but the root's (the gateway's request)."""
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_id not in ids]
    assert [(r.service, r.parent_id) for r in roots] == [("gateway", "")], roots
    return roots[0]


async def test_a_tool_turn_is_one_trace_and_a_replay_adds_no_span(
    traced: tuple[LocalStack, Collector], api: Api
) -> None:
    local, collector = traced
    sid = await api.create_session(user_id=f"e2e-{uuid.uuid4().hex[:8]}")
    turn_id, spans = await one_turn(collector, api, sid, TOOL_TURN)
    root = assert_one_tree(spans)
    by_id = {s.span_id: s for s in spans}

    (run_turn,) = named(spans, "RunTurn")
    assert run_turn.parent_id == root.span_id
    assert run_turn.attributes == {
        **run_turn.attributes,
        "session.id": sid,
        "turn.id": turn_id,
    }
    updates = [
        s
        for s in spans
        if s.name.startswith(("StartUpdateWithStartWorkflow", "StartWorkflowUpdate"))
    ]
    assert [by_id[u.parent_id].name for u in updates] == [root.name]
    for name in (
        "StartActivity:converse",
        "StartActivity:call_tool",
        "StartActivity:publish_event",
    ):
        assert named(spans, name)
        assert all(s.parent_id == run_turn.span_id for s in named(spans, name))
    for run in named(spans, "RunActivity:converse") + named(spans, "RunActivity:call_tool"):
        assert by_id[run.parent_id].name.startswith("StartActivity:")
        assert (run.attributes.get("session.id"), run.attributes.get("turn.id")) == (sid, turn_id)

    models = [s for s in spans if s.name.startswith("invoke_agent ")]
    assert len(models) >= 2  # the step that asks for the tool, and the answer
    for model in models:
        assert by_id[model.parent_id].name == "RunActivity:converse"
        assert model.attributes["gen_ai.system"] == "mistral_ai"
        assert model.attributes["gen_ai.usage.input_tokens"] > 0
        assert model.attributes["gen_ai.usage.output_tokens"] > 0
        assert model.attributes["gen_ai.request.model"]
        http = [s for s in spans if s.parent_id == model.span_id and s.name == "POST"]
        assert http
        assert "/v1/conversations" in str(http[0].attributes["http.url"])

    tools = [s for s in spans if s.service == "mcp-server" and s.name.startswith("tools/call ")]
    assert tools, "the MCP server's span for the tool is in the turn's trace"
    assert "RunActivity:call_tool" in ancestors(spans, tools[0])
    assert tools[0].attributes["gen_ai.tool.name"]

    # The worker's log line for the tool call joins the trace.
    assert poll(lambda: tool_line(local, sid, turn_id) is not None, 10)
    line = tool_line(local, sid, turn_id)
    assert line is not None
    assert line["trace_id"] == root.trace_id
    assert (line["service"], line["level"]) == ("worker", "info")

    # Published deltas are no spans of their own: a few Redis calls per step, not one per delta.
    redis = [s for s in spans if s.attributes.get("db.system") == "redis"]
    assert len(redis) < 20, Counter(s.name for s in redis)

    # A new worker replays the session's history for its next turn: the first turn's trace
    # gets no second copy of its workflow spans.
    before = Counter(s.name for s in collector.trace(root.trace_id))
    os.kill(int((local.run_dir / "worker-1.pid").read_text()), signal.SIGKILL)
    local.restart_service("worker-1")
    second_id, second = await one_turn(collector, api, sid, SECOND_TURN)
    assert second[0].trace_id != root.trace_id
    assert_one_tree(second)
    assert [s.attributes["turn.id"] for s in named(second, "RunTurn")] == [second_id]
    assert Counter(s.name for s in collector.trace(root.trace_id)) == before
    everywhere = [s for s in collector.snapshot() if s.attributes.get("turn.id") == turn_id]
    assert all(s.trace_id == root.trace_id for s in everywhere)


def test_no_secret_or_user_text_in_any_span_and_no_secret_in_logs(
    traced: tuple[LocalStack, Collector],
) -> None:
    local, collector = traced
    spans = collector.snapshot()
    assert spans, "runs after the turn test, on the same stack"
    secrets = [DEV_API_KEY, local.extra_env["MCP_AUTH_TOKEN"]]
    for span in spans:
        text = f"{span.name} {span.attributes}"
        assert not [s for s in [*secrets, TOOL_TURN, SECOND_TURN] if s in text], span
    for name in local.services:
        text = (local.log_dir / f"{name}.log").read_text(errors="replace")
        assert not [s for s in secrets if s in text], name
        # Every service writes its lines as JSON, named by service.
        services = {line.get("service") for line in log_lines(local, name)}
        assert len(services) == 1, (name, services)
