"""The metrics mlchaos pushes to a Prometheus Pushgateway: defined once here, documented from here
(docs/reference/metrics.md, ``make docs``), and checked against the Grafana dashboard and alert rules.

Every series also carries the push's grouping labels: ``job`` (``mlchaos`` unless configured) and ``suite`` (the
suite's name) — or, for a scenario run alone by ``mlchaos run``, ``scenario`` instead of ``suite``. No label holds a
run id, a directory or a time: the Pushgateway keeps every group it was ever sent until it is deleted, and Prometheus
keeps a series for its whole retention, so a label that changes every month would add a new set of series every
month — a dashboard of stale lines and a slowly growing TSDB. Values change in place instead, and a run's identity is
in the report, the webhook message and ``mlchaos_scenario_last_run_timestamp_seconds``.

A value that was not measured is absent, never 0: 0 would read as "recovered instantly" or "score 0".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from mlchaos.experiments.publish.results import Finished, ScenarioResult, epoch

PREFIX = "mlchaos_"
GROUPING_LABELS = ("job", "suite")
"""Added by the Pushgateway from the grouping key (``scenario`` replaces ``suite`` for ``mlchaos run``)."""


@dataclass(frozen=True)
class Metric:
    name: str
    labels: tuple[str, ...]
    help: str
    unit: str


_S = ("scenario",)
METRICS: tuple[Metric, ...] = (
    Metric("mlchaos_scenario_score", _S, "Resilience score of the scenario's latest run (weighted share of "
           "verifiers that held); absent when nothing was judged.", "0..1"),
    Metric("mlchaos_scenario_passed", _S, "1 if the scenario's latest run passed (every verifier held), else 0.",
           "0 or 1"),
    Metric("mlchaos_scenario_exit_code", _S, "The latest run's exit code: 0 passed, 1 a verifier failed, 2 invalid "
           "or target unusable, 3 aborted, 4 rollback failed.", "code"),
    Metric("mlchaos_scenario_regressed", _S, "1 if the latest run got worse than the previous one (score, MTTR or "
           "p99 beyond the noise margin, or a pass turned into anything else), else 0.", "0 or 1"),
    Metric("mlchaos_scenario_duration_seconds", _S, "How long the latest run took, warm-up to the end of "
           "recovery.", "seconds"),
    Metric("mlchaos_scenario_last_run_timestamp_seconds", _S, "When the latest run started.", "Unix time"),
    Metric("mlchaos_scenario_last_success_timestamp_seconds", _S, "When the most recent run that passed started "
           "(from the history folder); absent if none did.", "Unix time"),
    Metric("mlchaos_verifier_passed", (*_S, "verifier"), "1 if the verifier held in the latest run, else 0; "
           "`verifier` is the verdict's name in the report, e.g. `mttr (store-down)`.", "0 or 1"),
    Metric("mlchaos_verifier_measured", (*_S, "verifier", "unit"), "The value the verifier measured, in `unit` "
           "(s, ms, share, …); absent when there was nothing to measure.", "the verifier's unit"),
    Metric("mlchaos_fault_mttd_seconds", (*_S, "fault"), "Time to detect the fault (from its injection until the "
           "service showed it); absent without an mttd verifier or when never detected.", "seconds"),
    Metric("mlchaos_fault_mttr_seconds", (*_S, "fault"), "Time to recover from the fault; absent without an mttr "
           "verifier or when it never recovered.", "seconds"),
    Metric("mlchaos_suite_score", (), "Mean score of the suite's scenarios (one not judged counts 0); suites "
           "only.", "0..1"),
    Metric("mlchaos_suite_passed", (), "1 if every scenario of the suite passed, else 0; suites only.", "0 or 1"),
    Metric("mlchaos_suite_duration_seconds", (), "From the first scenario's start to the last one's end; suites "
           "only.", "seconds"),
)  # fmt: skip
BY_NAME = {metric.name: metric for metric in METRICS}


def registry(finished: Finished) -> CollectorRegistry:
    """A registry holding every metric of ``finished``, ready to push."""
    registry = CollectorRegistry(auto_describe=True)
    gauges = {
        m.name: Gauge(m.name, m.help, m.labels, registry=registry) for m in METRICS if _applies(m, finished)
    }
    for name, labels, value in samples(finished):
        (gauges[name].labels(*labels) if labels else gauges[name]).set(value)
    return registry


def _applies(metric: Metric, finished: Finished) -> bool:
    return finished.kind == "suite" or not metric.name.startswith("mlchaos_suite_")


def samples(finished: Finished) -> Iterator[tuple[str, tuple[str, ...], float]]:
    """Every (metric, label values, value) of ``finished``; unmeasured values are left out."""
    for result in finished.scenarios:
        yield from _scenario(result)
    if finished.kind == "suite":
        yield from _present("mlchaos_suite_score", (), finished.score)
        yield "mlchaos_suite_passed", (), float(finished.passed)
        yield from _present("mlchaos_suite_duration_seconds", (), finished.duration_s)


def _present(
    name: str, labels: tuple[str, ...], value: float | None
) -> Iterator[tuple[str, tuple[str, ...], float]]:
    if value is not None:
        yield name, labels, value


def _scenario(result: ScenarioResult) -> Iterator[tuple[str, tuple[str, ...], float]]:
    run, s = result.run, (result.run.scenario,)
    yield from _present("mlchaos_scenario_score", s, run.score)
    yield "mlchaos_scenario_passed", s, float(result.passed)
    yield "mlchaos_scenario_exit_code", s, float(run.exit_code)
    yield "mlchaos_scenario_regressed", s, float(bool(result.regressions))
    yield from _present("mlchaos_scenario_duration_seconds", s, run.duration_s)
    yield from _present("mlchaos_scenario_last_run_timestamp_seconds", s, epoch(run.started_at))
    yield from _present("mlchaos_scenario_last_success_timestamp_seconds", s, result.last_success_at)
    for verdict in run.verdicts:
        yield "mlchaos_verifier_passed", (*s, verdict.name), float(verdict.passed)
        yield from _present("mlchaos_verifier_measured", (*s, verdict.name, verdict.unit), verdict.measured)
    for fault in run.faults:
        yield from _present("mlchaos_fault_mttd_seconds", (*s, fault.id), fault.mttd_s)
        yield from _present("mlchaos_fault_mttr_seconds", (*s, fault.id), fault.mttr_s)


def reference_page() -> list[str]:
    """The table of docs/reference/metrics.md (reference_docs adds the page's head)."""
    lines = ["| Metric | Labels | Unit | Meaning |", "| --- | --- | --- | --- |"]
    for m in METRICS:
        labels = ", ".join(f"`{label}`" for label in m.labels) or "—"
        meaning = m.help.replace("|", "\\|")
        lines.append(f"| `{m.name}` | {labels} | {m.unit} | {meaning} |")
    return lines
