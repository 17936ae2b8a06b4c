"""A small OTLP/HTTP trace receiver on 127.0.0.1, in the test process: what a collector (Jaeger, Tempo, the
OpenTelemetry Collector) receives from ``mlchaos``, decoded from the wire.

The SDK's ``InMemorySpanExporter`` would skip what a team depends on: the OTLP exporter, its ``OTEL_*``
configuration, protobuf encoding, HTTP. This receiver takes ``POST /v1/traces`` as a collector does, decodes each
``ExportTraceServiceRequest`` with the OTLP protobuf definitions (``opentelemetry-proto``, which the exporter
itself uses) and keeps the spans as :class:`ReceivedSpan`. ``status`` makes it answer every export with another
HTTP status, to play a collector that refuses.

``from support.otlp_receiver import otlp_receiver``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from support.loopback_http import answer, serving

Value = str | int | float | bool


@dataclass(frozen=True)
class ReceivedEvent:
    name: str
    ts: float
    attributes: dict[str, Value]


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    start: float
    end: float
    attributes: dict[str, Value]
    events: tuple[ReceivedEvent, ...]
    error: str | None
    """The status message of a span whose status is ERROR; ``None`` otherwise."""
    resource: dict[str, Value]


@dataclass
class Receiver:
    url: str
    """The base endpoint, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` takes it (the exporter adds ``/v1/traces``)."""
    status: int = 200
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0


def _value(value: AnyValue) -> Value:
    kind = value.WhichOneof("value")
    return (
        getattr(value, kind)
        if kind in ("string_value", "int_value", "double_value", "bool_value")
        else str(value)
    )


def _attributes(pairs: Any) -> dict[str, Value]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


def decode(body: bytes) -> list[ReceivedSpan]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                error = span.status.message if span.status.code == Status.STATUS_CODE_ERROR else None
                spans.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        start=span.start_time_unix_nano / 1e9,
                        end=span.end_time_unix_nano / 1e9,
                        attributes=_attributes(span.attributes),
                        events=tuple(
                            ReceivedEvent(e.name, e.time_unix_nano / 1e9, _attributes(e.attributes))
                            for e in span.events
                        ),
                        error=error,
                        resource=resource,
                    )
                )
    return spans


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    lock = threading.Lock()
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            assert self.path == "/v1/traces", self.path
            assert self.headers.get("Content-Type") == "application/x-protobuf"
            with lock:
                receiver.requests += 1
                status = receiver.status
                if status == 200:
                    receiver.spans.extend(decode(body))
            body = ExportTraceServiceResponse().SerializeToString() if status == 200 else b""
            answer(self, status, body, "application/x-protobuf")

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    with serving(Handler) as url:
        receiver = Receiver(url)
        yield receiver


def assert_lines_up_with_journal(spans: list[ReceivedSpan], entries: list[Any], within_s: float) -> None:
    """The spans of one run say what its journal (``entries``) says, at its times to within ``within_s``: the run
    from its first entry to ``run_finished``, each phase to the next, each fault from its ``inject_intent`` to
    its ``reverted``, all in one trace under the run."""
    [root] = [s for s in spans if not s.parent_id]
    assert {s.trace_id for s in spans} == {root.trace_id}
    assert all(s.parent_id == root.span_id for s in spans if s is not root)
    finished = [e.ts for e in entries if e.event == "run_finished"]
    assert abs(root.start - entries[0].ts) <= within_s and abs(root.end - finished[-1]) <= within_s
    by_name = {s.name: s for s in spans}
    marks = [(e.phase, e.ts) for e in entries if e.event == "phase"]
    for (phase, start), (_, end) in itertools.pairwise(marks):
        span = by_name[f"phase {phase}"]
        assert abs(span.start - start) <= within_s and abs(span.end - end) <= within_s, (phase, span)
    faults = {e.fault_id: e.ts for e in entries if e.event == "inject_intent"}
    reverted = {e.fault_id: e.ts for e in entries if e.event == "reverted"}
    assert faults, "the run injected no fault"
    for fault_id, start in faults.items():
        span = by_name[f"fault {fault_id}"]
        assert abs(span.start - start) <= within_s and abs(span.end - reverted[fault_id]) <= within_s, span
    assert len(spans) == 1 + len(faults) + len(marks) - 1  # the run, its faults, its phases (not "end")
