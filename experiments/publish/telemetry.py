"""What a run publishes to a team's observability stack as it goes: OpenTelemetry spans of its phases and faults
(:mod:`.otel`) and Grafana annotations of its fault windows (:mod:`.grafana`), both made from its journal.

Both are off unless the environment asks for them (:mod:`.telemetry_settings`): then nothing is imported, started or
opened. Neither can change a run: what fails to be published is said once, at the run's end, and the run's
verdicts and exit code stand. docs/observability.md is the user's side of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.journal import Entry, listening
from mlchaos.experiments.publish.telemetry_attributes import RunIdentity
from mlchaos.experiments.publish.telemetry_settings import Publishing, publishing
from mlchaos.experiments.scenario import Scenario

__all__ = ["Publisher", "RunTelemetry", "run_telemetry"]


class Publisher(Protocol):
    """Listens to a run's journal; at its end publishes what is left and says what it could not."""

    def __call__(self, entry: Entry) -> None: ...

    def finish(self, exit_code: ExitCode, message: str) -> str | None: ...


class RunTelemetry:
    """One run's publishers. Set :attr:`result` before leaving :func:`run_telemetry`; its problems are then
    in :attr:`problems`."""

    def __init__(self, publishers: list[Publisher], problems: list[str]) -> None:
        self.publishers = publishers
        self.problems = problems
        self.result: tuple[ExitCode, str] | None = None

    def __call__(self, entry: Entry) -> None:
        for publisher in self.publishers:
            publisher(entry)

    def finish(self) -> None:
        exit_code, message = self.result or (ExitCode.ABORTED, "the run ended without a result")
        for publisher in self.publishers:
            try:
                problem = publisher.finish(exit_code, message)
            except Exception as exc:  # publishing is never worth a run's result: a bug is said, not raised
                problem = f"{type(publisher).__name__} failed: {type(exc).__name__}: {exc}"
            if problem is not None:
                self.problems.append(problem)


def _publishers(asked: Publishing, run: RunIdentity, problems: list[str]) -> list[Publisher]:
    made: list[Publisher] = []
    try:
        if asked.traces is not None:
            from mlchaos.experiments.publish.otel import JournalTracer  # the SDK: only when traces are on

            made.append(JournalTracer(asked.traces, run))
        if asked.grafana is not None:
            from mlchaos.experiments.publish.grafana import GrafanaAnnotations

            made.append(GrafanaAnnotations(asked.grafana, run))
    except Exception as exc:  # an SDK refusing its environment (a malformed OTEL_* value): said, run goes on
        problems.append(f"cannot publish this run: {type(exc).__name__}: {exc}")
    return made


@contextlib.contextmanager
def run_telemetry(
    run_dir: Path, scenario: Scenario, *, say: Callable[[str], None], asked: Publishing | None = None
) -> Iterator[RunTelemetry]:
    """Publishes the run recorded in ``run_dir`` while inside, as the environment asks (``asked``: read from it
    by default); on the way out finishes publishing and passes each problem to ``say``, once."""
    asked = publishing() if asked is None else asked
    problems = list(asked.problems)
    telemetry = RunTelemetry(_publishers(asked, RunIdentity.of(run_dir, scenario), problems), problems)
    try:
        if not telemetry.publishers:
            yield telemetry
        else:
            with listening(run_dir, telemetry):
                yield telemetry
    finally:
        telemetry.finish()
        for problem in telemetry.problems:
            say(problem)
