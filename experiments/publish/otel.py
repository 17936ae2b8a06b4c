"""A run's journal as OpenTelemetry spans, exported over OTLP/HTTP while the run goes on.

Imported only when traces are on (:mod:`.telemetry_settings`): the SDK, its exporter thread and its connections
cost nothing otherwise. The spans are made from journal entries as they are written
(:func:`mlchaos.experiments.journal.listening`), with the entries' own times, so a trace says exactly what the
journal says and when:

- the run, ``mlchaos run SCENARIO``: from its first entry to ``run_finished``; its status is the run's result;
- under it, a span per phase (``phase baseline``…), from its ``phase`` entry to the next one;
- and a span per fault (``fault ID``), from its ``inject_intent`` — written just before the fault is applied —
  to its ``reverted``; ``injected``, ``fault_action``, ``revert_intent`` and failures are events on it;
- the run's other notable entries (a stack started, a guardrail tripped, a signal, an abort) are events on the run.

Exporting happens in the SDK's batch thread: a slow or refusing collector never holds the run up. At the run's
end what is left is flushed within :data:`FLUSH_TIMEOUT_S`, and spans that could not be delivered are said once;
they never change a verdict or an exit code.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, Status, StatusCode

from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.journal import Entry, Event
from mlchaos.experiments.outcome import END_PHASE
from mlchaos.experiments.publish import telemetry_attributes as a
from mlchaos.experiments.publish.telemetry_settings import TraceSettings
from mlchaos.experiments.redaction import redact_text

FLUSH_TIMEOUT_S = 5.0
"""The longest a run's end waits for its last spans to be exported (a refusing collector is given up then)."""
_REASON_CHARS = 300
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_RETRIES_RAN_OUT = "due to timeout, max retries or shutdown"
_TRANSIENT = re.compile(r"Transient error (.*) encountered while exporting", re.DOTALL)

# Entries that are events on the run's span (the rest make or end spans, or are events of a fault's).
_RUN_EVENTS = frozenset(
    {
        Event.RUN_STARTED,
        Event.STACK_STARTED,
        Event.INPUTS_PREPARED,
        Event.GUARDRAIL_TRIPPED,
        Event.INTERRUPTED,
        Event.ABORTED,
        Event.RUN_FINISHED,
    }
)


def _ns(ts: float) -> int:
    return round(ts * 1e9)


def _version() -> str:
    try:
        return version("mlchaos")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


class _Delivery(SpanExporter):
    """The OTLP exporter, counting what it delivered and what it could not, for the one message at the end."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner
        self.delivered = 0
        self.failed: str | None = None
        self._lock = threading.Lock()
        self._shut = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut:  # given up at the run's end: what is left is lost, and counted so
            return SpanExportResult.FAILURE
        try:
            result = self._inner.export(spans)
        except Exception as exc:  # the exporter's bug, or a transport error it did not expect: a lost batch
            self.failed = self.failed or f"{type(exc).__name__}: {exc}"
            return SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.delivered += len(spans)
        return result

    def shutdown(self) -> None:
        # Called by the batch processor, and by finish() when the flush overruns (to abort the exporter's
        # retries): the first call does it.
        with self._lock:
            if self._shut:
                return
            self._shut = True
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class _FirstProblem(logging.Handler):
    """The SDK logs why each export failed, batch after batch; while a run is traced its ``opentelemetry``
    loggers go here instead of stderr, and the first error is the reason in the run's one message — or, when
    that error only says the retries ran out, the first transient error, which says why."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.error: str | None = None
        self.warning: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        said = record.getMessage()
        if transient := _TRANSIENT.match(said):  # without "retrying in 1.02s": it is said once all is over
            said = transient[1]
        if errno := _ERRNO.search(said):  # the socket's reason, rather than urllib3's reprs around it
            said = errno[1].strip().lower()
        said = redact_text(said)[:_REASON_CHARS]
        if record.levelno >= logging.ERROR:
            self.error = self.error or said
        else:
            self.warning = self.warning or said

    @property
    def first(self) -> str | None:
        if self.error is not None and _RETRIES_RAN_OUT in self.error and self.warning is not None:
            return self.warning
        return self.error or self.warning


class JournalTracer:
    """Listens to one run's journal and makes its spans; :meth:`finish` ends them and flushes."""

    def __init__(self, settings: TraceSettings, run: a.RunIdentity) -> None:
        self._settings = settings
        self._run_identity = run
        # service.name from OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES if set, else mlchaos.
        resource = Resource.create({a.SERVICE_VERSION: _version()})
        if str(resource.attributes.get(a.SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({a.SERVICE_NAME: a.DEFAULT_SERVICE_NAME}))
        self._delivery = _Delivery(OTLPSpanExporter())  # endpoint, headers, TLS, timeout: from OTEL_* itself
        self._processor = BatchSpanProcessor(self._delivery)
        # Its own provider, never the global one: a program using mlchaos as a library keeps its own tracing.
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        provider.add_span_processor(self._processor)
        self._tracer = provider.get_tracer("mlchaos", _version())
        self._lock = threading.Lock()
        self._run: Span | None = None
        self._phase: Span | None = None
        self._faults: dict[str, Span] = {}
        self._last_ts = 0.0
        self._finished_ts: float | None = None
        self._ended = 0
        self._broken: str | None = None
        self._closed = False
        self._problem = _FirstProblem()
        self._logger = logging.getLogger("opentelemetry")
        self._propagate = self._logger.propagate
        self._logger.addHandler(self._problem)
        self._logger.propagate = False

    # The journal's listener: quick, and never raises (a bug here is said once and tracing stops).
    def __call__(self, entry: Entry) -> None:
        with self._lock:
            if self._broken is not None or self._closed:
                return
            try:
                self._on(entry)
            except Exception as exc:
                self._broken = f"{type(exc).__name__}: {exc}"

    def _on(self, entry: Entry) -> None:
        self._last_ts = max(self._last_ts, entry.ts)
        if self._run is None:
            self._run = self._tracer.start_span(
                f"mlchaos run {self._run_identity.scenario}",
                context=otel_context.Context(),  # a trace of its own
                start_time=_ns(entry.ts),
                attributes=self._run_identity.attributes(),
            )
        if entry.event == Event.PHASE and entry.phase is not None:
            self._end(self._phase, entry.ts)
            self._phase = None
            if entry.phase != END_PHASE:
                self._phase = self._child(f"phase {entry.phase}", entry.ts, {a.PHASE: entry.phase})
            return
        fault = self._faults.get(entry.fault_id or "")
        if entry.event == Event.INJECT_INTENT and entry.fault_id:
            fault = self._child(f"fault {entry.fault_id}", entry.ts, _fault_attributes(entry))
            self._faults[entry.fault_id] = fault
        if entry.event in _RUN_EVENTS or fault is None:
            self._event(self._run, entry)
            if entry.event == Event.ABORTED:
                self._run.set_status(Status(StatusCode.ERROR, entry.detail))
            if entry.event == Event.RUN_FINISHED:
                self._finished_ts = entry.ts
                self._close_all(entry.ts)
            return
        self._event(fault, entry)
        if entry.event in (Event.INJECT_FAILED, Event.REVERT_FAILED):
            fault.set_status(Status(StatusCode.ERROR, entry.detail))
            fault.set_attribute(a.ERROR_TYPE, entry.event.value)
        if entry.event in (Event.INJECT_FAILED, Event.REVERTED):  # a failed revert's error stays: it happened
            self._end(self._faults.pop(entry.fault_id or ""), entry.ts)

    def _child(self, name: str, ts: float, attributes: a.Attributes) -> Span:
        assert self._run is not None
        return self._tracer.start_span(
            name,
            context=trace.set_span_in_context(self._run),
            start_time=_ns(ts),
            attributes={**self._run_identity.attributes(), **attributes},
        )

    def _event(self, span: Span, entry: Entry) -> None:
        attributes: a.Attributes = {a.JOURNAL_SEQ: entry.seq}
        if entry.fault_id:
            attributes[a.FAULT_ID] = entry.fault_id
        if entry.detail:
            attributes[a.DETAIL] = entry.detail  # redacted when journalled
        span.add_event(entry.event.value, attributes, timestamp=_ns(entry.ts))

    def _end(self, span: Span | None, ts: float) -> None:
        if span is None:
            return
        # A span the sampler dropped (OTEL_TRACES_SAMPLER) is never exported: not counted as lost.
        self._ended += span.is_recording()
        span.end(end_time=_ns(ts))

    def _close_all(self, ts: float) -> None:
        self._end(self._phase, ts)
        self._phase = None
        for fault_id, span in self._faults.items():  # the journal shows no revert: say so on the span
            span.set_status(Status(StatusCode.ERROR, f"no revert of {fault_id} in the journal"))
            self._end(span, ts)
        self._faults.clear()

    def finish(self, exit_code: ExitCode, message: str) -> str | None:
        """Ends the run's span with the run's result, flushes within :data:`FLUSH_TIMEOUT_S`, and says what
        could not be exported (``None``: everything was)."""
        with self._lock:
            if self._run is not None and self._broken is None:
                end = self._finished_ts if self._finished_ts is not None else self._last_ts
                self._close_all(end)
                self._run.set_attribute(a.EXIT_CODE, int(exit_code))
                self._run.set_attribute(
                    a.TEST_CASE_RESULT_STATUS, "pass" if exit_code == ExitCode.OK else "fail"
                )
                if exit_code != ExitCode.OK:
                    self._run.set_status(Status(StatusCode.ERROR, redact_text(message)))
                    self._run.set_attribute(a.ERROR_TYPE, exit_code.name.lower())
                self._end(self._run, end)
            self._closed = True  # entries written after this belong to no span
        try:
            # The processor's own shutdown waits up to 30 s for its last export: it gets FLUSH_TIMEOUT_S here,
            # and then the exporter is shut, which ends any retry in progress.
            flush = threading.Thread(target=self._processor.shutdown, name="mlchaos-otel-flush", daemon=True)
            flush.start()
            flush.join(FLUSH_TIMEOUT_S)
            if flush.is_alive():
                self._delivery.shutdown()
                flush.join(0.5)
        finally:
            self._logger.removeHandler(self._problem)
            self._logger.propagate = self._propagate
        return self._lost()

    def _lost(self) -> str | None:
        where = f"traces: {{}} to {self._settings.endpoint}"
        if self._broken is not None:
            return where.format(f"a bug stopped the spans ({self._broken}); what was made was sent")
        lost = self._ended - self._delivery.delivered
        if lost <= 0:
            return None
        reason = self._delivery.failed or self._problem.first or f"not sent within {FLUSH_TIMEOUT_S:g}s"
        return where.format(f"{lost} of {self._ended} spans could not be exported ({reason})")


def _fault_attributes(entry: Entry) -> a.Attributes:
    attributes: a.Attributes = {a.FAULT_ID: entry.fault_id or ""}
    if entry.kind:
        attributes[a.FAULT_KIND] = entry.kind
    if entry.heals_itself is not None:
        attributes[a.FAULT_HEALS_ITSELF] = entry.heals_itself
    return attributes
