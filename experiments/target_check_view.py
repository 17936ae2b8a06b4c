"""``mlchaos target check``: the target resolved as a run resolves it, looked at once
(:func:`~mlchaos.experiments.target_check.look`), and what was seen shown as tables — health, answers, response
fields, signals, proxies and programs, request schema, which verifiers would have data — ending with one line:
everything declared could be read (exit 0), or what could not (exit 1). Exit 2: the target cannot be used at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from mlchaos.experiments.errors import ExitCode, MlchaosError
from mlchaos.experiments.load.spec import RequestTemplate
from mlchaos.experiments.records import ProbeSample
from mlchaos.experiments.session import TargetSession
from mlchaos.experiments.signal_mapping import DeclaredSignal
from mlchaos.experiments.target_check import Findings, look
from mlchaos.experiments.targets import EmbeddedTarget, ExternalTarget, KubernetesTarget
from mlchaos.experiments.verifier_data import Support, verifier_support

AnyTarget = EmbeddedTarget | ExternalTarget | KubernetesTarget
_SUPPORT_STYLE = {
    Support.YES: "[green]yes[/]",
    Support.LIMITED: "[yellow]limited[/]",
    Support.NO: "[red]no[/]",
}
# The probe checks each kind of declared signal fills (signal_mapping): to show a reading under its declaration.
_CHECKS = {"breakers": "breaker:", "transitions": "transitions:"}


def check(
    target: AnyTarget,
    given: Sequence[RequestTemplate],
    *,
    count: int,
    origin: str,
    console: Console,
    errors: Console,
    allow_production: bool = False,
) -> ExitCode:
    """Resolve ``target`` (starting an embedded stack, stopped after), look at it, show what was seen."""
    if allow_production and not isinstance(target, EmbeddedTarget):
        target = target.model_copy(
            update={"allow_production": True}
        )  # the runtime guard of a cluster reads it
    session = TargetSession(note=lambda message: console.print(message, markup=False, soft_wrap=True))
    try:
        try:
            endpoints = session.acquire(target)
        except (MlchaosError, OSError) as exc:  # no cluster, a refused one, a stack that cannot start
            errors.print(f"target not usable: {exc}", markup=False, soft_wrap=True)
            return ExitCode.INVALID
        return show(look(endpoints, given, count=count, origin=origin), console, errors)
    finally:
        session.close()


def show(findings: Findings, console: Console, errors: Console) -> ExitCode:
    """Print the tables and the closing line; the exit code."""
    console.print(
        f"target: {findings.endpoints.service_url} (predict path {findings.endpoints.predict_path})"
    )
    console.print(_health(findings))
    if (why := findings.unreachable) is not None:
        errors.print(f"[red]✗ {why}: nothing else was looked at[/]", soft_wrap=True)
        return ExitCode.INVALID
    if findings.answers:
        console.print(_answers(findings))
    console.print(_fields(findings))
    console.print(_signals(findings))
    if findings.backends:
        console.print(_backends(findings))
    for line in findings.cluster:
        console.print(line, markup=False, soft_wrap=True)
    if findings.schema is not None:
        console.print(_schema(findings))
    console.print(_verifiers(findings))
    if findings.problems:
        listed = "; ".join(findings.problems)
        console.print(f"[red]✗ declared but could not be read: {listed}[/]", soft_wrap=True)
        return ExitCode.VERIFIER_FAILED
    console.print("[green]✓ everything the target declares could be read[/]")
    return ExitCode.OK


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in ("#", "status", "ms") else "left")
    return table


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _health(findings: Findings) -> Table:
    table = _table("Health endpoints", "check", "path", "status", "ms", "note")
    for check in findings.health:
        if check.path is None:
            table.add_row(check.name, "—", "", "", "not declared")
            continue
        status = "—" if check.status is None else str(check.status)
        shown = f"[green]{status}[/]" if check.ok else f"[red]{status}[/]"
        table.add_row(check.name, check.path, shown, _ms(check.latency_ms), check.error or "")
    return table


def _answers(findings: Findings) -> Table:
    response = findings.endpoints.response
    optional = [name for name in ("score", "review", "shed") if getattr(response, name) is not None]
    labelled = findings.labelled
    columns = ["#", "status", "ms", "tier", "prediction", "confidence", *optional]
    table = _table(
        f"Requests: POST {findings.endpoints.predict_path}",
        *columns,
        *(["label"] if labelled else []),
        "error",
    )
    ladder = findings.endpoints.tiers
    for i, answer in enumerate(findings.answers, start=1):
        tier = answer.tier or "—"
        tier = tier if answer.tier is None or answer.tier in ladder else f"[red]{tier} (off the ladder)[/]"
        cells = [
            str(i),
            "—" if answer.status is None else str(answer.status),
            _ms(answer.latency_ms),
            tier,
            _text(answer.prediction),
            _text(answer.confidence),
            *(_text(getattr(answer, name)) for name in optional),
        ]
        table.add_row(*cells, *([_text(answer.label)] if labelled else []), answer.error or "")
    return table


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _fields(findings: Findings) -> Table:
    table = _table("Response fields (the target's response mapping)", "field", "declared as", "read", "note")
    for name, (spec, values, note) in findings.fields.items():
        problem = any(p.startswith(f"response.{name} ") for p in findings.problems)
        shown = f"[red]{note}[/]" if problem else note
        table.add_row(f"response.{name}", spec, ", ".join(values) or "—", shown)
    ladder = ", ".join(findings.endpoints.tiers)
    table.add_row("tiers", ladder, "", "the ladder, best first")
    return table


def _signals(findings: Findings) -> Table:
    table = _table("Signals (one probe round)", "declared", "reads", "value", "error")
    if not findings.declared:
        table.add_row("none", "", "", "the target declares no signals: no breaker or drift verdicts")
    shown: set[int] = set()
    for signal in findings.declared:
        rows = _readings_of(signal, findings.declared, findings.signals)
        shown |= {id(sample) for sample in rows}
        label = f"{signal.where}\n{signal.source.shown}"
        if not rows:
            table.add_row(label, "", "—", "no series yet (a counter that counted nothing)")
        for row in _condensed(rows):
            table.add_row(label, *row)
            label = ""
    others = [sample for sample in findings.signals if id(sample) not in shown]
    for row in _condensed(others):  # a failed /metrics, a Kubernetes workload
        table.add_row("", *row)
    return table


def _readings_of(
    signal: DeclaredSignal, every: Sequence[DeclaredSignal], samples: Sequence[ProbeSample]
) -> list[ProbeSample]:
    """The samples of one declaration: its failures by their ``where`` prefix (signal_mapping starts every
    error with it); its readings by their check — under the first declaration of its kind when several are
    (two breaker metrics both fill ``breaker:<dependency>`` checks)."""
    failed = [s for s in samples if s.error is not None and s.error.startswith(f"{signal.where}:")]
    kind = _kind(signal)
    if next(d for d in every if _kind(d) == kind) is not signal:
        return failed
    read = [s for s in samples if s.error is None and _fills(kind, s.check)]
    return read + failed


def _kind(signal: DeclaredSignal) -> str:
    """``breakers``, ``transitions``, ``drift.alarm``, ``drift.onsets`` or ``gauges.NAME``."""
    return signal.where.removeprefix("signals.").split("[")[0]


def _fills(kind: str, check: str) -> bool:
    if kind in _CHECKS:
        return check.startswith(_CHECKS[kind])
    exact = {"drift.alarm": "drift:alarm", "drift.onsets": "drift:alarms_total"}
    return check == exact.get(kind, "gauge:" + kind.removeprefix("gauges."))


def _condensed(samples: Sequence[ProbeSample]) -> list[tuple[str, str, str]]:
    """``(check, value, error)`` rows, a dependency's transition counters on one row."""
    rows: list[tuple[str, str, str]] = []
    counters: dict[str, list[str]] = {}
    for sample in samples:
        if sample.error is not None:
            rows.append((sample.check, "—", f"[red]{sample.error}[/]"))
        elif sample.check.startswith("transitions:"):
            _, dependency, change = sample.check.split(":", 2)
            counters.setdefault(dependency, []).append(f"{change.replace('>', '→')} {_text(sample.number)}")
        elif sample.check == "drift:alarm":
            rows.append((sample.check, "RAISED" if sample.number else "off", ""))
        else:
            rows.append((sample.check, sample.value or _text(sample.number), ""))
    rows += [(f"transitions:{dependency}", ", ".join(counts), "") for dependency, counts in counters.items()]
    return rows


def _backends(findings: Findings) -> Table:
    table = _table("Proxies and programs", "kind", "name", "state", "detail")
    for backend in findings.backends:
        # readable, but a run's preflight would refuse it: shown, not counted as unreadable
        refused = "a run would refuse it" in backend.detail
        state = backend.state if backend.ok and not refused else f"[red]{backend.state}[/]"
        table.add_row(backend.kind, backend.name, state, backend.detail)
    return table


def _schema(findings: Findings) -> Table:
    assert findings.schema is not None
    table = _table(
        "Request schema (as a run resolves it)",
        "feature",
        "type",
        "range / choices",
        "typical",
        "required",
        "from",
    )
    for path, feature in findings.schema.schema.features.items():
        bounds = (
            ", ".join(map(_text, feature.choices)) if feature.choices else _bounds(feature.min, feature.max)
        )
        typical = "" if feature.typical is None else _bounds(*feature.typical)
        source = findings.schema.sources.get(path, "")
        table.add_row(path, feature.type.value, bounds, typical, "yes" if feature.required else "no", source)
    if not findings.schema.schema.features:
        table.add_row("none", "", "", "", "", "declare request.features or request.openapi")
    return table


def _bounds(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return ""
    return f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"


def _verifiers(findings: Findings) -> Table:
    table = _table("Verifiers: would they have data on this target?", "verifier", "data", "why not, or what")
    for name, support, why in verifier_support(findings.observed()):
        table.add_row(name, _SUPPORT_STYLE[support], why)
    return table
