"""OpenTelemetry tracing, wired once for every process (ServiceRuntime.start, the console).

One trace follows an order through every service:
- ingest's webhook request is a span (the FastAPI instrumentation); the delivery carries its
  context to the writer, which emits `order.ready` inside it;
- an outbox row stores the W3C trace context of the code that wrote it (`traceparent`,
  `tracestate`), and the relay publishes the row inside that context, so the aio-pika
  instrumentation's publish span and the message's headers continue the writer's trace;
- a consumer handles a message in a span whose parent is the message's context, so what the
  handler calls (the ledger over httpx) and emits belongs to the same trace (with nobody
  listening, in the message's context itself: no span).

Trace context is always made and carried (a trace id travels in every message and log line).
Spans are recorded only while someone listens, and the httpx and aio-pika instrumentations are
installed only then (their wrappers cost CPU on every message and call even when no span is
recorded; bench/message_cost.py): an OTLP/HTTP collector named by
`LEDGERBRIDGE_OTLP_ENDPOINT` (then the standard `OTEL_*` variables, sampler and exporter
headers, apply), or a processor added with `listen` (the tests). Recording every span with
nobody listening doubled ingest's CPU per webhook (web 1.1 -> 2.2 ms, worker 1.2 -> 2.3 ms;
bench/ingest_webhooks.py).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

from lb_common.settings import CommonSettings

log = logging.getLogger(__name__)

#: The headers a message carries its trace context in (W3C Trace Context).
HEADERS = ("traceparent", "tracestate")
#: Requests not worth a span: probes and scrapes every few seconds; and requests whose path
#: holds a secret (ingest's Keap hook URL, /webhooks/<platform>/<connection>/<token>): a span
#: would carry the token to the trace exporter (each pattern is a regex searched in the URL).
UNTRACED_URLS = "/healthz,/readyz,/metrics,/webhooks/[^/?]+/[^/?]+/[^/?]+"


_provider: TracerProvider | None = None
_enabled = True
_listened = False  # a span processor (exporter) is attached: spans are worth recording


class _WhenListened(Sampler):
    """The usual sampler while spans are exported, else none recorded (ids still made)."""

    def __init__(self, usual: Sampler) -> None:
        self._usual = usual

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        if _listened:
            return self._usual.should_sample(*args, **kwargs)
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return f"WhenListened({self._usual.get_description()})"


def configure(service: str, settings: CommonSettings) -> TracerProvider | None:
    """The process's tracer provider, made on the first call (several services in one test
    process share it), instrumenting httpx and aio-pika once spans are recorded (`listen`);
    None when tracing is off."""
    global _provider, _enabled
    _enabled = settings.tracing
    if not _enabled:
        return None
    if _provider is not None:
        return _provider
    usual = TracerProvider().sampler  # what OTEL_TRACES_SAMPLER asks for (default: parent-based)
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"ledgerbridge-{service}"}),
        sampler=_WhenListened(usual),
    )
    _provider = provider
    for waiting in _waiting:
        provider.add_span_processor(waiting)
    _waiting.clear()
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        listen(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        log.info("exporting traces", extra={"data": {"otlp_endpoint": endpoint}})
    trace.set_tracer_provider(provider)
    if _listened:
        _instrument_libraries()
    return provider


_instrumented = False


def _instrument_libraries() -> None:
    """Spans for httpx requests and aio-pika publishes and deliveries, once spans are recorded.

    Not before: with nobody listening their wrappers only make spans that are never recorded,
    yet ran on every message published and consumed and every ledger call. Trace context
    travels without them: an outbox row's headers carry it to the publish (`resumed`, and
    `publish_event` sends the row's headers), a consumer resumes it from the message's headers
    (`handling`), and a retried or parked copy keeps the message's headers."""
    global _instrumented
    if _instrumented or _provider is None:
        return
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    _instrumented = True
    HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
    AioPikaInstrumentor().instrument(tracer_provider=_provider)


def instrumented() -> bool:
    """Whether the aio-pika and httpx instrumentations are installed (spans are recorded):
    then a publish must go through aio-pika's Exchange.publish, which makes its span."""
    return _instrumented


def provider() -> TracerProvider | None:
    return _provider


_waiting: list[SpanProcessor] = []


def listen(processor: SpanProcessor) -> None:
    """Record spans from now on and hand them to `processor` (an exporter's, or a test's);
    before `configure`, from when it runs. Apps made before this have no request spans."""
    global _listened
    _listened = True
    if _provider is None:
        _waiting.append(processor)
    else:
        _provider.add_span_processor(processor)
        # Consumers started before this have no aio-pika receive span; their handling span
        # still continues the message's trace (`handling`).
        if _enabled:
            _instrument_libraries()


async def shutdown() -> None:
    """Send what the exporter still holds (at process exit)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5_000)


def app_options() -> dict[str, Any]:
    """What a service's FastAPI app is made with, so that request spans come from
    instrument_app alone. FastAPI (0.13x and later) has tracing of its own, on as soon as a
    tracer provider is set (ours always is): a span, a metric and a log record per request
    with nobody listening, which was about a fifth of ingest's CPU per webhook in the app
    (py-spy under bench/ingest_webhooks.py), and it would not leave out UNTRACED_URLS."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def instrument_app(app: FastAPI) -> None:
    """A span per request (its parent from the caller's `traceparent`, if any), while spans
    are recorded: the ASGI middleware costs about 0.5 ms of CPU per request even when its span
    is not recorded, and a trace is started by the first message an order sends anyway."""
    if not (_enabled and _listened):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls=UNTRACED_URLS)


_tracers: dict[int, trace.Tracer] = {}


def _tracer() -> trace.Tracer:
    # Made once per provider: `get_tracer` builds a new tracer and scope on every call.
    key = id(_provider)
    found = _tracers.get(key)
    if found is None:
        found = _tracers[key] = trace.get_tracer("lb_common", tracer_provider=_provider)
    return found


def publishing(headers: Mapping[str, Any] | None) -> contextlib.AbstractContextManager[None]:
    """The context a message is published in: the one its headers carry (an outbox row's,
    the code that wrote it), for the aio-pika instrumentation's publish span. Without the
    instrumentation (nobody listening) the headers are sent as they are and nothing reads the
    context: no need to resume it."""
    return resumed(headers) if _instrumented else contextlib.nullcontext()


def _carrier(headers: Mapping[str, Any] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in HEADERS:
        value = (headers or {}).get(name)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str):
            found[name] = value
    return found


# The headers of the span context injected last, and the contexts extracted from the last
# messages' headers: a consumer emits its messages in the context of the message it handles
# (twice per message, and more in ingest, whose timeline reports of one order share a
# context while nobody listens), so most injects and extracts repeat the one before. Span
# contexts and contexts are immutable; nothing in ledgerbridge sets baggage, the only other
# thing the propagators carry.
_last_injected: tuple[trace.SpanContext | None, dict[str, str]] = (None, {})
_extracted: dict[tuple[str, ...], context.Context] = {}
_EXTRACTED_MAX = 256


def current_headers() -> dict[str, str]:
    """The current trace context as headers; empty outside any span."""
    global _last_injected
    if not _enabled:
        return {}
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    if span_context is _last_injected[0]:
        return dict(_last_injected[1])
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    _last_injected = (span_context, dict(carrier))
    return carrier


def message_headers(what: str = "emit") -> dict[str, str]:
    """The current trace context as message headers. Outside any span (a periodic job, a
    deferred delivery) a short span `what` starts a trace of its own, so every message has
    one."""
    carrier = current_headers()
    if carrier or not _enabled:
        return carrier
    with _tracer().start_as_current_span(what):
        propagate.inject(carrier)
    return carrier


def _extract(carrier: dict[str, str]) -> context.Context:
    key = tuple(carrier.get(name, "") for name in HEADERS)
    found = _extracted.get(key)
    if found is None:
        if len(_extracted) >= _EXTRACTED_MAX:
            _extracted.clear()
        # From an empty context, so the result depends on the headers alone.
        found = _extracted[key] = propagate.extract(carrier, context=context.Context())
    return found


@contextlib.contextmanager
def resumed(headers: Mapping[str, Any] | None) -> Iterator[None]:
    """Run the block in the trace context `headers` carry (none: the block's own)."""
    carrier = _carrier(headers)
    if not carrier:
        yield
        return
    token = context.attach(_extract(carrier))
    try:
        yield
    finally:
        context.detach(token)


@contextlib.contextmanager
def handling(
    headers: Mapping[str, Any] | None,
    name: str,
    attributes: Callable[[], Mapping[str, str]],
) -> Iterator[None]:
    """The span a consumer handles a message in: a child of the aio-pika instrumentation's
    receive span when there is one, else of the context the message carries. `attributes`:
    the span's, asked for only when the span is recorded."""
    if not _enabled:
        yield
        return
    in_span = trace.get_current_span().get_span_context().is_valid
    if not _listened:
        # Nobody records spans: the message's own context is enough for what the handler
        # emits and logs to carry its trace on. A span that is not recorded cost 68 us per
        # message, the context alone 15 us (timeit).
        with resumed(None if in_span else headers):
            yield
        return
    parent = None if in_span else _extract(_carrier(headers))
    with _tracer().start_as_current_span(
        name, context=parent, kind=trace.SpanKind.CONSUMER, attributes=dict(attributes())
    ):
        yield
