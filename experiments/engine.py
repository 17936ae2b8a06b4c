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
import time
from collections.abc import Callable
from pathlib import Path

from mlchaos.experiments import runlock
from mlchaos.experiments.crash import failure_message
from mlchaos.experiments.errors import ExitCode as ExitCode  # re-exported: the CLI's vocabulary
from mlchaos.experiments.inputs import Send
from mlchaos.experiments.journal import Event, Journal, Stop, partial_stop, read_journal
from mlchaos.experiments.live import GuardrailWatch, LiveStats
from mlchaos.experiments.load.recording import STREAM_NAME, finish_recording
from mlchaos.experiments.load.runner import LoadRunner
from mlchaos.experiments.load.spec_from_scenario import baseline_s, dataset_requests, load_seed, load_spec
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
from mlchaos.experiments.probes import Prober, write_probes
from mlchaos.experiments.rollback import RollbackResult, revert_outstanding
from mlchaos.experiments.run_control import Aborted as Aborted
from mlchaos.experiments.run_control import RunDisplay as RunDisplay
from mlchaos.experiments.run_control import StopRequest as StopRequest
from mlchaos.experiments.run_control import cluster_of, lock_endpoints
from mlchaos.experiments.run_outcome import RunOutcome, run_outcome
from mlchaos.experiments.service_schema import SchemaUnusable, scenario_schema
from mlchaos.experiments.verifiers.base import Phase, Verdict
from mlchaos.experiments.verifiers.steady_state import evaluate
from mlchaos.injectors import (
    INJECTORS,
    InjectorError,
    InputContext,
    JournallingInjector,
    OnPreparedRequests,
)

FIRST_RECORDS_TIMEOUT_S = 20.0
GUARDRAIL_CHECK_S = 0.5


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
        self.journal.append(Event.RUN_STARTED, detail=plan.scenario.name, cluster=cluster_of(plan))
        self.prober = Prober(plan.target, interval_s=probe_interval_s)
        self.worker_bind = worker_bind
        self._judging = False
        """Set once the baseline begins: what comes before (ramp, warm-up) is neither judged nor guarded."""
        self.schema = plan.target.request
        """The request schema input faults are built from: declared until resolved after preflight."""
        self.load = LoadRunner(
            load_spec(plan, self._load_duration_s, worker_bind=worker_bind),
            recording=run_dir / STREAM_NAME,
            on_batch=self.stats.add,
        )

    @property
    def _load_duration_s(self) -> float:
        return baseline_s(self.plan) + self.plan.end + 2.0

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
            try:
                return self._run_locked()
            except Exception as exc:  # nothing below handled it — a bug, most likely: revert all the same
                return self._unhandled(exc)

    def _unhandled(self, exc: Exception) -> RunOutcome:
        """The run after an exception escaped it (from preflight, the rollback, the verdicts…): saved as a bug
        report unless mlchaos anticipated it, every fault reverted from the journal, the run marked finished so
        its report says aborted; exit 3, or 4 if a revert fails."""
        message, name = failure_message(exc, self.run_dir), self.plan.scenario.name
        with contextlib.suppress(Exception):  # they may never have started, or be what broke
            self.load.stop(timeout_s=2.0)
        with contextlib.suppress(Exception):
            self.prober.stop()
        self.journal.close()  # it may be closed already, or left open by a step that broke
        try:
            journal = Journal(self.run_dir)
        except OSError as error:  # nothing says what is applied: the user must check (exit 4), not assume
            why = f"{message}; the journal cannot be reopened to revert ({error}): mlchaos rollback {self.run_dir}"
            return RunOutcome(self.run_dir, name, ExitCode.ROLLBACK_FAILED, [], why)
        with contextlib.closing(journal):
            journal.try_append(Event.ABORTED, detail=message)
            rollback = revert_outstanding(journal)
            if not any(e.event == Event.RUN_FINISHED for e in read_journal(journal.path)):
                journal.try_append(Event.RUN_FINISHED, detail=f"rollback {'ok' if rollback.ok else 'FAILED'}")
        self.display.note(f"aborted: {message}")
        return self._outcome(message, rollback, "the recording was not judged")

    def _run_locked(self) -> RunOutcome:
        name = self.plan.scenario.name
        try:
            preflight(self.plan)
            self.schema = scenario_schema(self.plan)
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
            aborted = failure_message(exc, self.run_dir)  # a bug: its traceback saved in RUN_DIR/crash.txt
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
        t0 = self.load.started_at + baseline_s(self.plan)
        self._wait_for_first_records()
        for step in self.plan.steps:
            self._wait_until(t0 + step.offset, t0)
            self._do(step)
        self._wait_until(t0 + self.plan.end, t0)
        self.journal.append(Event.PHASE, phase=END_PHASE)

    def _prepare_inputs(self) -> None:
        """Input faults that are made against the live target (attacks) run now, before the load starts; the
        load is then built with what they made and the resolved request schema."""
        preparing = [
            (p.spec, p.plan.description, p.plan.acts_on)
            for p in self.plan.faults
            if isinstance(p.plan.acts_on, OnPreparedRequests)
        ]
        if any(p.plan.changes_requests for p in self.plan.faults):
            self.display.note(f"request schema: {self.schema.describe()}")
        prepared: dict[str, Send] = {}
        context = InputContext(
            target=self.plan.target,
            clean=tuple(r.body for r in dataset_requests(self.plan)),
            run_dir=self.run_dir,
            seed=load_seed(self.plan),
            request_timeout_s=self.plan.scenario.load.request_timeout,
            schema=self.schema,
            max_response_bytes=self.plan.scenario.load.max_response_bytes,
        )
        for fault, description, acts_on in preparing:
            self._check_stop()
            self.display.note(f"preparing {fault.id}: {description}")
            try:
                made = acts_on.prepare(context)
            except InjectorError as exc:
                self.journal.append(Event.INJECT_FAILED, fault_id=fault.id, kind=fault.type, detail=str(exc))
                raise Aborted(f"could not prepare '{fault.id}': {exc}") from exc
            self.journal.append(
                Event.INPUTS_PREPARED, fault_id=fault.id, kind=fault.type, detail=made.summary
            )
            self.display.note(f"prepared {fault.id}: {made.summary}")
            prepared[fault.id] = made.inputs
        self.load = LoadRunner(
            load_spec(
                self.plan, self._load_duration_s, prepared, worker_bind=self.worker_bind, schema=self.schema
            ),
            recording=self.run_dir / STREAM_NAME,
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
            if (unrecorded := self.load.recording_error) is not None:  # an unrecorded run proves nothing
                raise Aborted(unrecorded)
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
                kind=fault.type,
                heals_itself=fault.heals_itself,
                undo=planned.plan.undo.model_dump(),
            )
            try:
                if isinstance(injector, JournallingInjector):  # it picks its targets as it acts: journal each
                    injector.inject_journalled(
                        fault, planned.plan.undo, self._action_log(fault.id, fault.type)
                    )
                else:
                    injector.inject(fault, planned.plan.undo)
            except InjectorError as exc:
                self.journal.append(Event.INJECT_FAILED, fault_id=fault.id, kind=fault.type, detail=str(exc))
                raise Aborted(f"could not inject '{fault.id}': {exc}") from exc
            self.journal.append(Event.INJECTED, fault_id=fault.id, kind=fault.type)
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
        frame = self.load.requests(since=time.time() - hypothesis.window)  # read back from the recording
        tiers = self.plan.scenario.target.declaration.tiers
        result = evaluate(hypothesis, frame, tiers=tiers)
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
            finish_recording(self.run_dir / STREAM_NAME, self.run_dir / REQUESTS_NAME)
            write_probes(self.prober.samples, self.run_dir / PROBES_NAME)
        except OSError as exc:
            unsaved.append(f"could not save the recording in {self.run_dir}: {exc.strerror or exc}")
        detail = "rollback ok" if rollback.ok else "rollback FAILED"
        if (error := self.journal.try_append(Event.RUN_FINISHED, detail=detail)) and not unsaved:
            unsaved.append(error)
        self.journal.close()
        self.display.finished()
        return rollback, "; ".join(unsaved) or None

    def _outcome(self, aborted: str | None, rollback: RollbackResult, unsaved: str | None) -> RunOutcome:
        return run_outcome(
            self.run_dir,
            self.plan.scenario.name,
            aborted,
            rollback,
            unsaved,
            partial_stop=self._partial_stop,
            judge=self._judge,
        )

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
