"""What a run records: one row per request, one row per probe sample.

These are the only shapes that cross from the live run (load child, prober) to the verifiers and reports. They are
stored columnar in the run directory (requests streamed as Arrow IPC while the run records, then Parquet:
:mod:`mlchaos.experiments.load.recording`), so ``mlchaos report RUN`` can recompute every verdict later.

Times are wall-clock epoch seconds (``time.time()``): the load child, the prober and the journal run in different
processes on the same host, and the epoch clock is the one they share.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields

import pyarrow as pa


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the load sent, as the load child saw it.

    ``status`` is the HTTP status, or 0 when no response arrived (connection refused, reset, timeout).
    ``tier``/``confidence``/``prediction`` are read from the response where the target says they are; ``tier`` is
    kept as the service named it (a name on the target's ladder, or not: the verifiers count and name those).
    ``label`` is the true label for canary requests (known ground truth), else ``None``.

    ML input faults (corrupted, adversarial, shifted, out-of-distribution, metamorphic inputs) tag their requests:

    - ``input``: ``None`` for clean traffic, else ``"<family>:<name>"`` naming what the request carried —
      ``corrupt:nan``, ``corrupt:truncated_json``, ``adversarial:supplied``, ``adversarial:boundary``,
      ``shift:covariate``, ``shift:label_prior``, ``ood:extreme``, ``metamorphic:<relation name>`` ...;
    - ``pair``: links requests that a verifier compares (an adversarial sample and its clean counterpart, the
      original and the transformed input of a metamorphic test); ``None`` otherwise;
    - ``expected``: what the answer should be, when the input fault knows it — the clean counterpart's
      prediction for an adversarial sample, the declared relation for a metamorphic one (``same``,
      ``higher``, ``lower``);
    - ``score``: the target's score (probability of the positive class) when it reports one;
    - ``flagged``: the target flagged the answer for review / low-confidence handling (``None``: not reported);
    - ``shed``: the target said it shed this request (answered cheaply at overload; ``None``: not reported).
    """

    start: float
    latency_ms: float
    status: int
    tier: str | None = None
    confidence: float | None = None
    prediction: str | None = None
    error: str | None = None
    label: str | None = None
    input: str | None = None
    pair: str | None = None
    expected: str | None = None
    score: float | None = None
    flagged: bool | None = None
    shed: bool | None = None


REQUEST_SCHEMA = pa.schema(
    [
        pa.field("start", pa.float64(), nullable=False),
        pa.field("latency_ms", pa.float64(), nullable=False),
        pa.field("status", pa.int32(), nullable=False),
        pa.field("tier", pa.string()),
        pa.field("confidence", pa.float64()),
        pa.field("prediction", pa.string()),
        pa.field("error", pa.string()),
        pa.field("label", pa.string()),
        pa.field("input", pa.string()),
        pa.field("pair", pa.string()),
        pa.field("expected", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("flagged", pa.bool_()),
        pa.field("shed", pa.bool_()),
    ]
)
REQUEST_COLUMNS = tuple(f.name for f in fields(RequestRecord))


@dataclass(frozen=True, slots=True)
class ProbeSample:
    """One sample of the target's health and metrics.

    ``check`` names what was sampled:

    - ``ready``, ``live``, ``inference``: a health endpoint; ``value`` is the HTTP status;
    - ``breaker:<dependency>``: a breaker's state; ``value`` is ``closed`` / ``open`` / ``half_open``;
    - ``transitions:<dependency>:<from>><to>``: how many times that breaker made that transition since the
      service started (a counter: ``number``), so transitions shorter than the sampling interval are seen too;
    - ``drift:alarm``: the target's drift alarm, ``value`` ``"1"``/``"0"`` (``number`` 1/0, ``ok`` while off);
      ``drift:alarms_total``: how many alarm onsets since the service started (``number``);
    - ``gauge:<name>``: an extra gauge the target declares (``number``);
    - ``signal:<where>`` (e.g. ``signal:breakers[0]``): a declared signal that could not be read and whose own
      check is unknown (no dependency to name it by); ``error`` starts with the declaration;
    - ``metrics``: only when ``health.metrics`` itself could not be read.

    All but the health checks and workloads come from the signals the target declares
    (:mod:`mlchaos.experiments.signal_mapping`), whether from its ``/metrics`` or through PromQL.
    - ``workload:<kind>/<name>`` and ``restarts:<kind>/<name>``: a Kubernetes workload's ready replicas and its
      pods' container restarts (see :mod:`mlchaos.experiments.kubernetes.readiness`).

    ``ok`` is whether the check looked healthy; ``error`` says why a probe failed to observe anything — probe
    failures are data, not crashes.
    """

    ts: float
    check: str
    ok: bool
    value: str | None = None
    latency_ms: float | None = None
    error: str | None = None
    number: float | None = None


PROBE_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.float64(), nullable=False),
        pa.field("check", pa.string(), nullable=False),
        pa.field("ok", pa.bool_(), nullable=False),
        pa.field("value", pa.string()),
        pa.field("latency_ms", pa.float64()),
        pa.field("error", pa.string()),
        pa.field("number", pa.float64()),
    ]
)
