from __future__ import annotations

import logfire
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from temporalio.contrib.opentelemetry import TracingInterceptor

from services.common.settings import TelemetrySettings
from services.common.telemetry import OTLP_ENDPOINT_VARIABLES, setup_telemetry, tracing_wanted

DESTINATIONS = ("LOGFIRE_TOKEN", "LOGFIRE_CONSOLE", *OTLP_ENDPOINT_VARIABLES)


def test_spans_are_captured_in_memory_with_no_token() -> None:
    exporter = InMemorySpanExporter()

    async def hello(request: Request) -> PlainTextResponse:
        with logfire.span("greeting {who}", who="world"):
            return PlainTextResponse("hi")

    app = Starlette(routes=[Route("/hello", hello)])
    setup_telemetry(
        "test-service",
        app=app,
        span_processors=[SimpleSpanProcessor(exporter)],
        settings=TelemetrySettings(),
    )
    with TestClient(app) as client:
        assert client.get("/hello").text == "hi"
    logfire.force_flush()
    spans = exporter.get_finished_spans()
    names = [span.name for span in spans]
    assert "greeting {who}" in names
    assert any("GET /hello" in name for name in names)
    # One trace from the request span down to the span inside the handler.
    assert len({span.context.trace_id for span in spans if span.context}) == 1
    resource = spans[0].resource.attributes
    assert resource["service.name"] == "test-service"


def test_asgi_messages_get_no_span_of_their_own() -> None:
    """Logfire already drops those spans on export; the middleware must not even open them."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app = Starlette(routes=[])
    setup_telemetry("test-service", app=app, settings=TelemetrySettings(tracing="on"))
    (entry,) = [m for m in app.user_middleware if m.cls is OpenTelemetryMiddleware]  # type: ignore[comparison-overlap]
    assert entry.kwargs["exclude_spans"] == ["send", "receive"]


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """No destination for spans in the environment."""
    for name in DESTINATIONS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("nowhere")
def test_nothing_is_traced_when_spans_have_nowhere_to_go() -> None:
    app = Starlette(routes=[])
    telemetry = setup_telemetry("test-service", app=app, settings=TelemetrySettings())
    assert not telemetry.tracing
    assert telemetry.temporal_interceptors() == []
    assert app.user_middleware == []  # the app is not even wrapped


@pytest.mark.usefixtures("nowhere")
@pytest.mark.parametrize("variable", DESTINATIONS)
def test_a_destination_turns_tracing_on(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "http://127.0.0.1:4318" if "OTLP" in variable else "1")
    assert tracing_wanted(TelemetrySettings())
    assert not tracing_wanted(TelemetrySettings(tracing="off"))


@pytest.mark.usefixtures("nowhere")
def test_tracing_on_without_a_destination_and_with_a_test_processor() -> None:
    assert not tracing_wanted(TelemetrySettings())
    assert tracing_wanted(TelemetrySettings(tracing="on"))
    assert tracing_wanted(TelemetrySettings(), span_processors=True)
    telemetry = setup_telemetry("test-service", settings=TelemetrySettings(tracing="on"))
    (interceptor,) = telemetry.temporal_interceptors()
    assert isinstance(interceptor, TracingInterceptor)
