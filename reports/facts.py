"""What a report says about one run besides its verdicts: faults with their MTTD/MTTR, error budgets, the most
common errors, request totals, the target and the journal's timeline.

Plain data, shared by the HTML report and summary.json, so both always say the same thing. Every string that
comes from the run (errors, journal details) goes through the run's :class:`~mlchaos.reports.run.Redactor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from mlchaos.experiments.journal import Event
from mlchaos.experiments.targets import EmbeddedTarget, KubernetesTarget
from mlchaos.experiments.verifiers.base import FaultWindow, Verdict
from mlchaos.experiments.verifiers.frames import selected
from mlchaos.experiments.verifiers.tiers import label_counts
from mlchaos.reports.run import MASK, RunData, S

TOP_ERRORS = 8
"""Distinct errors listed; a fault makes the same few errors thousands of times, and the rest add nothing."""
MAX_ERROR_CHARS = 300


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC (``2026-11-22T03:50:18Z``), the form summary.json and reports use."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class FaultFacts:
    """A fault as the journal saw it, with the MTTD and MTTR verdicts about it (``None`` when none ran)."""

    window: FaultWindow
    injected_s: float
    """Seconds after the run's zero (the baseline's start), as on the charts."""
    reverted_s: float | None
    mttd: Verdict | None
    mttr: Verdict | None


@dataclass(frozen=True)
class ErrorCount:
    error: str
    """The recorded error, or ``HTTP <status>`` when a response carried no error text."""
    count: int
    first_s: float


@dataclass(frozen=True)
class RequestTotals:
    requests: int
    available: float | None
    """Share of requests with a status in [200, 500), as the verifiers define *available*."""
    answered: float | None
    p50_ms: float | None
    p99_ms: float | None
    tiers: dict[str, float]
    """Share of answered (2xx) requests per tier: the target's ladder in order (best first), then any tier not on
    it (``none``: no tier named), most frequent first."""


@dataclass(frozen=True)
class JournalLine:
    at_s: float
    event: str
    fault_id: str | None
    detail: str | None


def zero(run: RunData[S]) -> float:
    """The run's zero: the baseline's start, as in the plan (a warm-up is before it); else the first phase or,
    without one, the first journal entry."""
    return run.recording.started_at


def faults(run: RunData[S]) -> list[FaultFacts]:
    """Every fault the journal shows applied, with the ``mttd``/``mttr`` verdicts naming it, in scenario order."""
    about: dict[tuple[str, str], Verdict] = {}
    for kind in ("mttd", "mttr"):
        specs = [s for s in run.scenario.verifiers if s.type == kind]
        verdicts = [v for v in run.verdicts if v.verifier == kind]
        # The verdicts of one type come in the order of their specs (compute_verdicts runs the specs in order).
        for spec, verdict in zip(specs, verdicts, strict=False):
            about.setdefault((kind, str(getattr(spec, "fault", ""))), verdict)
    t0 = zero(run)
    return [
        FaultFacts(
            window=window,
            injected_s=window.injected_at - t0,
            reverted_s=None if window.reverted_at is None else window.reverted_at - t0,
            mttd=about.get(("mttd", window.fault_id)),
            mttr=about.get(("mttr", window.fault_id)),
        )
        for window in run.recording.faults
    ]


def budgets(run: RunData[S]) -> list[Verdict]:
    return [v for v in run.verdicts if v.verifier == "error_budget"]


def top_errors(run: RunData[S]) -> list[ErrorCount]:
    """The most frequent reasons requests were not answered (non-2xx), most frequent first."""
    requests = run.recording.requests
    status = requests["status"].to_numpy()
    bad = (status < 200) | (status >= 300)
    if not bad.any():
        return []
    failed = requests.loc[bad, ["start", "status", "error"]]
    fallback = "HTTP " + failed["status"].astype(str)
    keys = failed["error"].astype(object).where(failed["error"].notna(), fallback.astype(object))
    keys = keys.where(keys != "HTTP 0", "no response")
    grouped = failed.assign(key=keys).groupby("key", sort=False)["start"].agg(["size", "min"])
    grouped = grouped.sort_values(["size", "min"], ascending=[False, True]).head(TOP_ERRORS)
    t0 = zero(run)
    return [
        ErrorCount(_clip(run.redact(str(key))), int(row["size"]), float(row["min"]) - t0)
        for key, row in grouped.iterrows()
    ]


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def totals(run: RunData[S]) -> RequestTotals:
    requests = run.recording.requests
    if requests.empty:
        return RequestTotals(0, None, None, None, None, {})
    status = requests["status"].to_numpy()
    ok = (status >= 200) & (status < 300)
    latency = requests["latency_ms"].to_numpy(dtype=float)
    p50, p99 = np.percentile(latency, [50, 99])
    counted = label_counts(selected(requests, ok, ["tier"]), normalize=True)  # "none" where none
    ladder = [tier for tier in run.recording.tiers if tier in counted.index]
    shares = pd.concat([counted[ladder], counted.drop(ladder)]) if ladder else counted
    return RequestTotals(
        requests=len(requests),
        available=float(((status >= 200) & (status < 500)).mean()),
        answered=float(ok.mean()),
        p50_ms=float(p50),
        p99_ms=float(p99),
        tiers={str(tier): float(share) for tier, share in shares.items()},
    )


@dataclass(frozen=True)
class PhaseFacts:
    """Requests in one phase of the run: how many, how many were available, and their tail latency."""

    phase: str
    requests: int
    available: float | None
    p99_ms: float | None


def phases(run: RunData[S]) -> list[PhaseFacts]:
    """Per phase (warmup, baseline, fault, recovery, after), in run order; the trends compare p99 phase by
    phase."""
    rows = []
    for window in run.recording.phases:
        inside = run.recording.requests_between(window.start, window.end)  # a slice of the sorted frame
        if inside.empty:
            rows.append(PhaseFacts(window.phase.value, 0, None, None))
            continue
        status = inside["status"].to_numpy()
        rows.append(
            PhaseFacts(
                window.phase.value,
                len(inside),
                float(((status >= 200) & (status < 500)).mean()),
                float(np.percentile(inside["latency_ms"].to_numpy(dtype=float), 99)),
            )
        )
    return rows


def target_rows(run: RunData[S]) -> list[tuple[str, str]]:
    """The target, described without any header value (names only)."""
    target = run.scenario.target
    if isinstance(target, EmbeddedTarget):
        breaker = target.breaker
        rows = [
            ("kind", "embedded reference stack (started by mlchaos for the run)"),
            ("broken-variant flags", ", ".join(target.flags) or "none"),
            (
                "breaker",
                f"opens after {breaker.failure_threshold} failures, half-opens after "
                f"{breaker.recovery_timeout_s:g}s, closes after {breaker.half_open_successes} trial successes",
            ),
            (
                "timeouts",
                f"feature store {target.feature_store_timeout_ms} ms, primary {target.primary_timeout_ms} ms, "
                f"cache {target.cache_timeout_ms} ms",
            ),
        ]
    elif isinstance(target, KubernetesTarget):
        rows = [
            ("kind", "kubernetes"),
            (
                "cluster",
                f"in-cluster service account, cluster '{target.cluster_name}'"
                if target.in_cluster
                else f"context {target.context or '(current)'}",
            ),
            ("namespace", f"{target.namespace} (allowed: {', '.join(target.allowed_namespaces)})"),
            ("service", target.service_url + target.predict_path),
            ("toxiproxy", target.toxiproxy_url or "—"),
            ("proxies", ", ".join(f"{k} → {v}" for k, v in target.proxies.items()) or "—"),
            ("probed workloads", ", ".join(target.workloads) or "—"),
        ]
    else:
        rows = [
            ("kind", "external"),
            ("service", target.service_url + target.predict_path),
            ("toxiproxy", target.toxiproxy_url or "—"),
            ("supervisord", target.supervisor_url or "—"),
            ("proxies", ", ".join(f"{k} → {v}" for k, v in target.proxies.items()) or "—"),
        ]
        if target.headers:
            rows.append(("headers", ", ".join(f"{name}: {MASK}" for name in target.headers)))
    return [(name, run.redact(value)) for name, value in rows]


def journal_lines(run: RunData[S]) -> list[JournalLine]:
    """The journal's story: phases, faults applied and reverted, guardrails, aborts (no undo data)."""
    shown = {
        Event.PHASE,
        Event.INJECTED,
        Event.FAULT_ACTION,
        Event.INJECT_FAILED,
        Event.REVERTED,
        Event.REVERT_FAILED,
        Event.GUARDRAIL_TRIPPED,
        Event.INTERRUPTED,
        Event.ABORTED,
        Event.RUN_STARTED,
        Event.RUN_FINISHED,
    }
    t0 = zero(run)
    lines = []
    for entry in run.entries:
        if entry.event not in shown:
            continue
        detail = entry.phase if entry.event == Event.PHASE else entry.detail
        if entry.cluster is not None:  # run_started of a Kubernetes target: which cluster it acted on
            detail = f"{detail or ''} — {entry.cluster}"
        lines.append(
            JournalLine(
                entry.ts - t0,
                entry.event.value,
                entry.fault_id,
                None if detail is None else run.redact(detail),
            )
        )
    return lines


def probe_count(run: RunData[S]) -> int:
    probes: pd.DataFrame = run.recording.probes
    return int(probes["ts"].nunique()) if not probes.empty else 0
