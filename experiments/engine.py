"""Running one scenario: preflight ▶ [warm-up] ▶ baseline ▶ faults on the timeline ▶ recovery ▶ after ▶ verdicts.

Rollback always runs — after success, a failed verifier, an exception, SIGINT or SIGTERM — and it runs from the
journal (:func:`~mlchaos.experiments.rollback.revert_outstanding`), the same way ``mlchaos rollback`` does after a
SIGKILL. Signals never interrupt a revert: the CLI's handlers only set :class:`StopRequest`, which the waits here
poll.

A run stopped by a guardrail or a signal after its baseline began is still judged, on what it recorded up to the
stop: partial verdicts, exit code 3 all the same. A run that ended in any other failure (preflight, a fault that
could not be injected or reverted, the load generator dying, an unexpected error, a disk that could not take the
recording) is not judged: its data is not what the scenario meant to measure.
"""

from __future__ import annotations

import contextlib
import enum
import json
import math
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, cast

import pyarrow as pa
import pyarrow.parquet as pq

from mlchaos.experiments import runlock
from mlchaos.experiments.file_limits import MAX_DATASET_BYTES, MAX_DATASET_ROWS, read_limited
from mlchaos.experiments.inputs import InputSend, InputWindow
from mlchaos.experiments.inputs.schema import RequestSchema
from mlchaos.experiments.journal import Event, Journal, Stop, partial_stop, read_journal
from mlchaos.experiments.live import GuardrailWatch, LiveStats, Snapshot
from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec import LoadSpec, Locustfile, RequestTemplate, Stage
from mlchaos.experiments.load.store import records_frame, write_requests_parquet
from mlchaos.experiments.outcome import (
    END_PHASE,
    PROBES_NAME,
    REQUESTS_NAME,
    compute_verdicts,
    load_recording,
    write_verdicts,
)
from mlchaos.experiments.plan import Action, Plan, Step
from mlchaos.experiments.preflight import PreflightFailed, preflight
from mlchaos.experiments.probes import Prober
from mlchaos.experiments.records import PROBE_SCHEMA
from mlchaos.experiments.redaction import redact_text
from mlchaos.experiments.rollback import RollbackResult, revert_outstanding
from mlchaos.experiments.service_schema import SchemaUnusable, fetch_openapi, run_schema, template_bodies
from mlchaos.experiments.targets import TargetEndpoints
from mlchaos.experiments.verifiers.base import Phase, Verdict
from mlchaos.experiments.verifiers.steady_state import evaluate
from mlchaos.injectors import (
    INJECTORS,
    FaultSpec,
    InjectorError,
    InputContext,
    JournallingInjector,
    PreparesInputs,
)

FIRST_RECORDS_TIMEOUT_S = 20.0
GUARDRAIL_CHECK_S = 0.5


class ExitCode(enum.IntEnum):
    """Exit codes, as design.md fixes them."""

    OK = 0
    VERIFIER_FAILED = 1
    INVALID = 2
    ABORTED = 3
    ROLLBACK_FAILED = 4


class Aborted(Exception):
    """The run stops early; the message says why. Rollback still runs."""


@dataclass
class StopRequest:
    """Set from signal handlers; polled by the engine. A second request skips waiting, never the revert."""

    reason: str | None = None
    count: int = 0
    event: threading.Event = field(default_factory=threading.Event)

    def request(self, reason: str) -> None:
        self.count += 1
        self.reason = self.reason or reason
        self.event.set()

    @property
    def hurry(self) -> bool:
        return self.count >= 2


class RunDisplay(Protocol):
    """What the engine tells the person watching (the CLI renders it with rich; tests may pass a recorder)."""

    def started(self, plan: Plan, run_dir: Path) -> None: ...
    def phase(self, phase: str, offset: float) -> None: ...
    def note(self, message: str) -> None: ...
    # elapsed: seconds since the baseline's start, as plan offsets (negative in a warm-up)
    def tick(self, elapsed: float, snapshot: Snapshot) -> None: ...
    def finished(self) -> None: ...


@dataclass
class RunOutcome:
    run_dir: Path
    scenario: str
    exit_code: ExitCode
    verdicts: list[Verdict]
    message: str
    rollback: RollbackResult | None = None
    partial: Stop | None = None
    """Set when a guardrail or a signal stopped the run after its baseline began: ``verdicts`` judge only what
    was recorded up to the stop (the exit code stays ABORTED)."""


def _ramp_s(plan: Plan) -> float:
    """Seconds the load takes to reach its users; the warm-up (or the baseline) starts after it."""
    load = plan.scenario.load
    return load.users / (load.spawn_rate or load.users)


def _baseline_s(plan: Plan) -> float:
    """Seconds from the load's start to the baseline's (the plan's offset 0): the ramp, then the warm-up."""
    return _ramp_s(plan) + plan.warmup


def _load_stages(plan: Plan) -> tuple[Stage, ...]:
    """The load shape: the scenario's users, multiplied while traffic faults (spikes) are on."""
    load = plan.scenario.load
    spawn_rate = load.spawn_rate or float(load.users)
    windows = [
        (plan.phase_start(Phase.FAULT) + p.spec.at, p.spec.duration, p.plan.load_multiplier)
        for p in plan.faults
        if p.plan.load_multiplier is not None
    ]
    if not windows:
        return ()
    ramp = _baseline_s(plan)
    boundaries = sorted({t for start, duration, _ in windows for t in (start, start + duration)})
    stages = []
    for at in boundaries:
        factor = math.prod(m for start, duration, m in windows if start <= at < start + duration)
        users = round(load.users * factor)
        stages.append(Stage(at_s=ramp + at, users=users, spawn_rate=max(spawn_rate, users - load.users)))
    return tuple(stages)


def _input_windows(plan: Plan, prepared: Mapping[str, InputSend]) -> tuple[InputWindow, ...]:
    """ML input faults on the load's clock: what each sends from its ``at`` for its ``duration``.

    Faults that make their inputs before the load (attacks) are in ``prepared`` by fault id; until then they have
    no window."""
    windows = []
    for planned in plan.faults:
        spec, fault_plan = planned.spec, planned.plan
        send = prepared.get(spec.id, fault_plan.inputs)
        if send is None or fault_plan.share is None:
            continue
        start = _baseline_s(plan) + plan.phase_start(Phase.FAULT) + spec.at
        windows.append(
            InputWindow(
                fault_id=spec.id,
                start_s=start,
                end_s=start + spec.duration,
                share=fault_plan.share,
                send=send,
            )
        )
    return tuple(windows)


def _requests(plan: Plan) -> tuple[RequestTemplate, ...]:
    dataset = plan.scenario.load.dataset
    if dataset is None:
        return ()
    # Validated within its caps; read bounded all the same, should it have grown since.
    lines = read_limited(dataset, MAX_DATASET_BYTES).decode("utf-8").splitlines()[:MAX_DATASET_ROWS]
    return tuple(RequestTemplate.model_validate(json.loads(line)) for line in lines if line.strip())


def _locustfile(plan: Plan) -> Locustfile | None:
    """The team's locustfile as the load child gets it: its text travels in the spec (to workers elsewhere too)."""
    load = plan.scenario.load
    if load.locustfile is None:
        return None
    source = load.locustfile.read_text(encoding="utf-8")
    return Locustfile(path=str(load.locustfile), source=source, user_classes=load.user_classes or ())


def _load_spec(
    plan: Plan,
    duration_s: float,
    prepared: Mapping[str, InputSend] | None = None,
    *,
    worker_bind: str | None = None,
    schema: RequestSchema | None = None,
) -> LoadSpec:
    """The load of ``plan``; ``schema`` is the resolved request schema (default: the target's declaration)."""
    load, target = plan.scenario.load, plan.target
    requests = _requests(plan)
    return LoadSpec(
        base_url=target.service_url,
        path=load.path or target.predict_path,
        users=load.users,
        spawn_rate=load.spawn_rate or float(load.users),
        duration_s=duration_s,
        wait_min_s=load.wait[0],
        wait_max_s=load.wait[1],
        request_timeout_s=load.request_timeout,
        max_response_bytes=load.max_response_bytes,
        headers=target.headers,
        tier_field=target.response.tier,
        confidence_field=target.response.confidence,
        prediction_field=target.response.prediction,
        score_field=target.response.score,
        review_field=target.response.review,
        shed_field=target.response.shed,
        requests=requests,
        template=load.body,
        locustfile=_locustfile(plan),
        # the scenario's target is the one it runs on (--target replaces it when the scenario is loaded)
        allowed_hosts=plan.scenario.target.declaration.allowed_hosts,
        allow_production=plan.scenario.target.declaration.allow_production,
        stages=_load_stages(plan),
        inputs=_input_windows(plan, prepared or {}),
        request_schema=target.request if schema is None else schema,
        seed=_seed(plan),
        workers=load.workers,
        worker_bind=worker_bind if load.workers else None,
    )


def _seed(plan: Plan) -> int:
    # Stable across runs of one scenario (hash() is salted per process): runs stay comparable.
    return zlib.crc32(plan.scenario.name.encode())


def _cluster(plan: Plan) -> str | None:
    """Which cluster a Kubernetes target's run acts on, for its journal: declared name and observed identity."""
    kube = plan.target.kubernetes
    if kube is None:
        return None
    named = f"cluster '{kube.cluster_name}', " if kube.cluster_name else ""
    return f"{named}context {kube.context}, {kube.identity or kube.server}"


class Experiment:
    """One run of one scenario against one live target."""

    def __init__(
        self,
        plan: Plan,
        run_dir: Path,
        *,
        stop: StopRequest,
        display: RunDisplay,
        probe_interval_s: float = 0.25,
        worker_bind: str | None = None,
    ) -> None:
        self.plan = plan
        self.run_dir = run_dir
        self.stop = stop
        self.display = display
        self.stats = LiveStats()
        self.guardrails = GuardrailWatch(list(plan.scenario.abort_when), self.stats)
        self.journal = Journal(run_dir)
        self.journal.append(Event.RUN_STARTED, detail=plan.scenario.name, cluster=_cluster(plan))
        self.prober = Prober(plan.target, interval_s=probe_interval_s)
        self.worker_bind = worker_bind
        self._judging = False
        """Set once the baseline begins: what comes before (ramp, warm-up) is neither judged nor guarded."""
        self.schema = plan.target.request
        """The request schema input faults are built from: declared until resolved after preflight."""
        self.load = LoadRunner(
            _load_spec(plan, self._load_duration_s, worker_bind=worker_bind), on_batch=self.stats.add
        )

    @property
    def _load_duration_s(self) -> float:
        return _baseline_s(self.plan) + self.plan.end + 2.0

    def run(self) -> RunOutcome:
        """Lock the target (one run at a time per target), then run; the lock is held until rollback is done."""
        name = self.plan.scenario.name
        try:
            lock = runlock.acquire(lock_endpoints(self.plan.target), run_dir=self.run_dir, scenario=name)
        except (runlock.TargetBusy, runlock.LockUnavailable) as exc:
            self.journal.append(Event.ABORTED, detail=str(exc))
            self.journal.close()
            return RunOutcome(self.run_dir, name, ExitCode.INVALID, [], str(exc))
        with lock:
            for gone in lock.stale:
                self.display.note(
                    f"took over the target lock of a run that died holding it ({gone.describe()}); "
                    f"if it left faults applied, preflight says so and `mlchaos rollback {gone.run_dir}` undoes them"
                )
            return self._run_locked()

    def _run_locked(self) -> RunOutcome:
        name = self.plan.scenario.name
        try:
            preflight(self.plan)
            self.schema = self._request_schema()
        except (PreflightFailed, SchemaUnusable) as exc:
            self.journal.append(Event.ABORTED, detail=str(exc))
            self.journal.close()
            return RunOutcome(self.run_dir, name, ExitCode.INVALID, [], str(exc))
        self.display.started(self.plan, self.run_dir)
        aborted: str | None = None
        try:
            self._drive()
        except Aborted as exc:
            aborted = str(exc)
        except Exception as exc:  # whatever broke, the faults must still be reverted: see finally
            aborted = (
                f"unexpected error: {type(exc).__name__}: {exc} (traceback in {self.run_dir / 'error.log'})"
            )
            with contextlib.suppress(OSError):  # the disk may be why it broke
                (self.run_dir / "error.log").write_text(redact_text(traceback.format_exc()), encoding="utf-8")
        finally:
            rollback, unsaved = self._finish(aborted)
        return self._outcome(aborted, rollback, unsaved)

    def _drive(self) -> None:
        self._prepare_inputs()
        self.prober.start()
        self.load.start()
        # The timeline is anchored to the load's own clock, so spikes programmed into its shape line up with it.
        # t0 is the baseline's start: the warm-up, if any, has negative offsets.
        assert self.load.started_at is not None
        t0 = self.load.started_at + _baseline_s(self.plan)
        self._wait_for_first_records()
        for step in self.plan.steps:
            self._wait_until(t0 + step.offset, t0)
            self._do(step)
        self._wait_until(t0 + self.plan.end, t0)
        self.journal.append(Event.PHASE, phase=END_PHASE)

    def _request_schema(self) -> RequestSchema:
        """The target's request schema completed from its OpenAPI spec (if it names one) and the dataset, for
        runs with input faults; :class:`SchemaUnusable` if it cannot be, or an input fault does not fit it."""
        target, load = self.plan.target, self.plan.scenario.load
        if not any(p.plan.inputs is not None or p.plan.prepares_inputs for p in self.plan.faults):
            return target.request
        document = None
        if target.request.openapi is not None:
            document = fetch_openapi(target.service_url, target.request.openapi, headers=target.headers)
        bodies = [r.body for r in _requests(self.plan)]
        if load.body is not None:
            bodies = template_bodies(load.body, _seed(self.plan))
        faults = [p.spec for p in self.plan.faults]
        path = load.path or target.predict_path
        return run_schema(target, faults, bodies=bodies, predict_path=path, openapi=document)

    def _prepare_inputs(self) -> None:
        """Input faults that are made against the live target (attacks) run now, before the load starts; the
        load is then built with what they made and the resolved request schema."""
        preparing = [p for p in self.plan.faults if p.plan.prepares_inputs]
        if any(p.plan.inputs is not None for p in self.plan.faults) or preparing:
            self.display.note(f"request schema: {self.schema.describe()}")
        prepared: dict[str, InputSend] = {}
        context = InputContext(
            target=self.plan.target,
            clean=tuple(r.body for r in _requests(self.plan)),
            run_dir=self.run_dir,
            seed=_seed(self.plan),
            request_timeout_s=self.plan.scenario.load.request_timeout,
            schema=self.schema,
            max_response_bytes=self.plan.scenario.load.max_response_bytes,
        )
        for planned in preparing:
            self._check_stop()
            fault = planned.spec
            injector = cast(PreparesInputs[FaultSpec], INJECTORS[fault.type])
            self.display.note(f"preparing {fault.id}: {planned.plan.description}")
            try:
                made = injector.prepare(fault, context)
            except InjectorError as exc:
                self.journal.append(Event.INJECT_FAILED, fault_id=fault.id, kind=fault.type, detail=str(exc))
                raise Aborted(f"could not prepare '{fault.id}': {exc}") from exc
            self.journal.append(
                Event.INPUTS_PREPARED, fault_id=fault.id, kind=fault.type, detail=made.summary
            )
            self.display.note(f"prepared {fault.id}: {made.summary}")
            prepared[fault.id] = made.inputs
        self.load = LoadRunner(
            _load_spec(
                self.plan, self._load_duration_s, prepared, worker_bind=self.worker_bind, schema=self.schema
            ),
            on_batch=self.stats.add,
        )

    def _wait_for_first_records(self) -> None:
        deadline = time.monotonic() + FIRST_RECORDS_TIMEOUT_S
        while self.stats.total == 0:
            self._check_stop()
            if not self.load.running:
                raise Aborted(
                    f"the load generator exited before any request completed: {self._load_failure()}"
                )
            if time.monotonic() > deadline:
                raise Aborted(
                    f"no request completed within {FIRST_RECORDS_TIMEOUT_S:g}s of starting the load"
                )
            self.stop.event.wait(0.05)

    def _load_failure(self) -> str:
        return str(self.load.error or "it exited")

    def _check_stop(self) -> None:
        if self.stop.event.is_set():
            detail = f"interrupted by {self.stop.reason}"
            self.journal.try_append(Event.INTERRUPTED, detail=detail)  # a full disk must not hide the signal
            raise Aborted(detail)

    def _wait_until(self, deadline: float, t0: float) -> None:
        next_guardrail_check = 0.0
        while (now := time.time()) < deadline:
            self._check_stop()
            if not self.load.running:
                raise Aborted(f"the load generator stopped early: {self._load_failure()}")
            if now >= next_guardrail_check:
                next_guardrail_check = now + GUARDRAIL_CHECK_S
                # From the baseline on: in the warm-up a cold service may be slow or fail, and no fault is on.
                tripped = self.guardrails.check(now) if self._judging else None
                if tripped is not None:
                    guardrail, value = tripped
                    detail = f"guardrail tripped: {guardrail.describe()} (now {value:.3g})"
                    self.journal.append(Event.GUARDRAIL_TRIPPED, detail=detail)
                    raise Aborted(detail)
                self.display.tick(now - t0, self.stats.snapshot(now))
            self.stop.event.wait(min(0.1, deadline - now))

    def _do(self, step: Step) -> None:
        if step.action == Action.PHASE:
            assert step.phase is not None
            if step.phase == Phase.FAULT:
                self._require_baseline_steady_state()
            self._judging = step.phase != Phase.WARMUP
            self.journal.append(Event.PHASE, phase=step.phase.value)
            self.display.phase(step.phase.value, step.offset)
            return
        assert step.fault is not None
        fault = step.fault
        planned = next(p for p in self.plan.faults if p.spec.id == fault.id)
        injector = INJECTORS[fault.type]
        if step.action == Action.INJECT:
            self.journal.append(
                Event.INJECT_INTENT,
                fault_id=fault.id,
                kind=injector.kind,
                heals_itself=fault.heals_itself,
                undo=planned.plan.undo.model_dump(),
            )
            try:
                if isinstance(injector, JournallingInjector):  # it picks its targets as it acts: journal each
                    injector.inject_journalled(
                        fault, planned.plan.undo, self._action_log(fault.id, injector.kind)
                    )
                else:
                    injector.inject(fault, planned.plan.undo)
            except InjectorError as exc:
                self.journal.append(
                    Event.INJECT_FAILED, fault_id=fault.id, kind=injector.kind, detail=str(exc)
                )
                raise Aborted(f"could not inject '{fault.id}': {exc}") from exc
            self.journal.append(Event.INJECTED, fault_id=fault.id, kind=injector.kind)
            self.display.note(f"injected {fault.id}: {planned.plan.description}")
        else:
            result = revert_outstanding(self.journal, only=fault.id)
            if fault.id in result.failed:
                raise Aborted(f"could not revert '{fault.id}': {result.failed[fault.id]}")
            self.display.note(f"reverted {fault.id}")

    def _action_log(self, fault_id: str, kind: str) -> Callable[[str], None]:
        def log(action: str) -> None:
            self.journal.append(Event.FAULT_ACTION, fault_id=fault_id, kind=kind, detail=action)

        return log

    def _require_baseline_steady_state(self) -> None:
        hypothesis = self.plan.scenario.steady_state
        frame = records_frame(self.load.records)
        tiers = self.plan.scenario.target.declaration.tiers
        result = evaluate(hypothesis, frame[frame["start"] >= time.time() - hypothesis.window], tiers=tiers)
        if not result.holds:
            raise Aborted(
                "steady state did not hold before the first fault, so the experiment would prove "
                f"nothing: {'; '.join(result.failed)} ({result.summary()})"
            )

    def _finish(self, aborted: str | None) -> tuple[RollbackResult, str | None]:
        """Revert everything, stop load and probes, save what was recorded. Runs on every exit path; a full or
        read-only disk costs the recording (said in the second value), never the revert."""
        if aborted is not None:
            self.journal.try_append(Event.ABORTED, detail=aborted)
            self.display.note(f"aborting: {aborted} — reverting faults")
        rollback = revert_outstanding(self.journal)
        self.load.stop(timeout_s=2.0 if self.stop.hurry else 10.0)
        self.prober.stop()
        unsaved = list(rollback.journal_errors)
        try:
            write_requests_parquet(self.load.records, self.run_dir / REQUESTS_NAME)
            _write_probes(self.prober, self.run_dir / PROBES_NAME)
        except OSError as exc:
            unsaved.append(f"could not save the recording in {self.run_dir}: {exc.strerror or exc}")
        detail = "rollback ok" if rollback.ok else "rollback FAILED"
        if (error := self.journal.try_append(Event.RUN_FINISHED, detail=detail)) and not unsaved:
            unsaved.append(error)
        self.journal.close()
        self.display.finished()
        return rollback, "; ".join(unsaved) or None

    def _outcome(self, aborted: str | None, rollback: RollbackResult, unsaved: str | None) -> RunOutcome:
        name = self.plan.scenario.name
        if not rollback.ok:
            left = "; ".join(f"{fid}: {why}" for fid, why in rollback.failed.items())
            return RunOutcome(
                self.run_dir,
                name,
                ExitCode.ROLLBACK_FAILED,
                [],
                f"rollback failed, these faults may still be applied: {left}",
                rollback,
            )
        if aborted is not None or unsaved is not None:
            why = "; ".join(part for part in (aborted, unsaved) if part)
            # Stopped by a guardrail or a signal after the baseline began, recording saved: judge what it has.
            stop = None if unsaved is not None else self._partial_stop()
            if stop is None:
                message = f"{why} — rollback done"
                return RunOutcome(self.run_dir, name, ExitCode.ABORTED, [], message, rollback)
            try:
                verdicts = self._judge(stop)
            except OSError as exc:
                message = f"{why} — rollback done; could not save the partial verdicts: {exc.strerror or exc}"
                return RunOutcome(self.run_dir, name, ExitCode.ABORTED, [], message, rollback)
            note = Stop.verdicts_note(sum(v.passed for v in verdicts), len(verdicts))
            message = f"{why} — rollback done; {note}"
            return RunOutcome(self.run_dir, name, ExitCode.ABORTED, verdicts, message, rollback, stop)
        try:
            verdicts = self._judge(None)
        except OSError as exc:
            message = f"could not save the verdicts in {self.run_dir}: {exc.strerror or exc} — rollback done"
            return RunOutcome(self.run_dir, name, ExitCode.ABORTED, [], message, rollback)
        failed = [v for v in verdicts if not v.passed]
        if failed:
            names = ", ".join(f"{v.name} = {_measured(v)}" for v in failed)
            return RunOutcome(
                self.run_dir, name, ExitCode.VERIFIER_FAILED, verdicts, f"failed: {names}", rollback
            )
        return RunOutcome(self.run_dir, name, ExitCode.OK, verdicts, "all verifiers held", rollback)

    def _judge(self, stop: Stop | None) -> list[Verdict]:
        """The verdicts on what the run recorded (up to ``stop``, when it was stopped), saved to verdicts.json."""
        scenario = self.plan.scenario
        verdicts = compute_verdicts(load_recording(self.run_dir, scenario), scenario)
        write_verdicts(self.run_dir, scenario, verdicts, stop=stop)
        return verdicts

    def _partial_stop(self) -> Stop | None:
        """A guardrail or a signal that stopped the run after its baseline began, as the journal says (the same
        reading ``mlchaos report`` makes later); ``None`` for any other end, or a journal that cannot be read."""
        try:
            return partial_stop(read_journal(self.journal.path))
        except (OSError, ValueError):
            return None


def lock_endpoints(target: TargetEndpoints) -> list[runlock.Endpoint]:
    """What a run acts on, and so locks: the service, the fault backends it names, and for Kubernetes each
    workload of its namespace (the namespace when it names none). ``runlock`` locks them by canonical key."""
    urls = [url for url in (target.service_url, target.toxiproxy_url, target.supervisor_url) if url]
    cluster = target.kubernetes
    if cluster is None:
        return list(urls)
    scopes = [runlock.ClusterScope(cluster.server, w.namespace, w.short) for w in cluster.workloads]
    return [*urls, *(scopes or [runlock.ClusterScope(cluster.server, cluster.namespace)])]


def _measured(verdict: Verdict) -> str:
    if verdict.measured is None:
        return f"nothing measured (target {verdict.target})"
    return f"{verdict.measured:.3g}{'' if verdict.unit in ('%',) else ' '}{verdict.unit} (target {verdict.target})"


def _write_probes(prober: Prober, path: Path) -> None:
    rows = [asdict(s) for s in prober.samples]
    for row in rows:  # a probe's error may quote the URL it read
        row["error"] = row["error"] and redact_text(row["error"])
    pq.write_table(pa.Table.from_pylist(rows, schema=PROBE_SCHEMA), path)
