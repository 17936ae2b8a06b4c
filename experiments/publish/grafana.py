"""A run's fault windows as Grafana annotations, so the dashboards a team already watches show when mlchaos acted.

The windows come from the journal, as :mod:`.otel` takes its spans: a fault from its ``inject_intent`` to its
``reverted`` entry, the run from its first entry to ``run_finished``. They are posted through Grafana's HTTP API
(``POST /api/annotations``, a region: ``time`` and ``timeEnd`` in epoch milliseconds) when the run ends — every
fault reverted, so every window is whole — tagged ``mlchaos``, ``scenario:NAME``, ``run:RUN_ID``, and
``fault:ID`` and ``kind:TYPE`` for a fault: a dashboard shows them with an annotation query on those tags. Each
request has a total deadline (:func:`.http.send`); the first failure stops the rest and is said once; none
changes a verdict or an exit code. The token is sent as ``Authorization: Bearer`` and never written or printed.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from mlchaos.experiments.errors import ExitCode
from mlchaos.experiments.journal import Entry, Event
from mlchaos.experiments.publish.http import SendFailed, origin, send
from mlchaos.experiments.publish.telemetry_attributes import RunIdentity
from mlchaos.experiments.publish.telemetry_settings import GrafanaSettings
from mlchaos.experiments.redaction import redact_text

REQUEST_DEADLINE_S = 5.0
"""The longest one annotation request may take, answer included."""
BUDGET_S = 15.0
"""The longest a run's end spends on annotations in all; what is left then is not posted (and said)."""


@dataclass(frozen=True)
class Annotation:
    """One region annotation, as Grafana's API takes it."""

    start: float
    end: float
    tags: tuple[str, ...]
    text: str

    def body(self) -> bytes:
        document = {
            "time": round(self.start * 1000),
            "timeEnd": round(self.end * 1000),
            "tags": list(self.tags),
            "text": self.text,
        }
        return json.dumps(document).encode()


@dataclass
class _Window:
    kind: str
    start: float
    end: float | None = None
    outcome: str = ""


class GrafanaAnnotations:
    """Listens to one run's journal for its windows; :meth:`finish` posts them."""

    def __init__(self, settings: GrafanaSettings, run: RunIdentity) -> None:
        self._settings = settings
        self._run = run
        self._lock = threading.Lock()
        self._started: float | None = None
        self._finished: float | None = None
        self._last = 0.0
        self._faults: dict[str, _Window] = {}

    def __call__(self, entry: Entry) -> None:
        with self._lock:
            self._last = max(self._last, entry.ts)
            self._started = entry.ts if self._started is None else self._started
            window = self._faults.get(entry.fault_id or "")
            if entry.event == Event.INJECT_INTENT and entry.fault_id:
                self._faults[entry.fault_id] = _Window(entry.kind or "", entry.ts)
            elif window is not None and window.end is None:
                if entry.event == Event.REVERTED:
                    window.end, window.outcome = entry.ts, "reverted"
                elif entry.event == Event.INJECT_FAILED:
                    window.end, window.outcome = entry.ts, "could not be injected"
            elif entry.event == Event.RUN_FINISHED:
                self._finished = entry.ts

    def annotations(self, exit_code: ExitCode, message: str) -> list[Annotation]:
        """The run's region and each fault's, as they will be posted."""
        with self._lock:
            if self._started is None:  # nothing was journalled: the run touched nothing
                return []
            end = self._finished if self._finished is not None else self._last
            base = ("mlchaos", f"scenario:{self._run.scenario}", f"run:{self._run.run_id}")
            result = "pass" if exit_code == ExitCode.OK else "fail"
            made = [
                Annotation(
                    self._started,
                    end,
                    (*base, f"result:{result}"),
                    f"mlchaos run {self._run.scenario} on {self._run.target_name}: {redact_text(message)}",
                )
            ]
            for fault_id, window in self._faults.items():
                made.append(
                    Annotation(
                        window.start,
                        window.end if window.end is not None else end,
                        (*base, f"fault:{fault_id}", f"kind:{window.kind}"),
                        f"mlchaos fault {fault_id} ({window.kind}) in {self._run.scenario}: "
                        + (window.outcome or "no revert in the journal"),
                    )
                )
            return made

    def finish(self, exit_code: ExitCode, message: str) -> str | None:
        """Posts the annotations; says what could not be posted (``None``: all were)."""
        made = self.annotations(exit_code, message)
        url = f"{self._settings.url}/api/annotations"
        headers = {"Content-Type": "application/json"}
        if self._settings.token:
            headers["Authorization"] = f"Bearer {self._settings.token}"
        deadline = time.monotonic() + BUDGET_S
        for done, annotation in enumerate(made):
            left = f"annotations: {len(made) - done} of {len(made)} not posted to {origin(url)}"
            if time.monotonic() > deadline:
                return f"{left} within {BUDGET_S:g}s"
            try:
                send("POST", url, annotation.body(), headers, REQUEST_DEADLINE_S)
            except SendFailed as exc:  # names the origin only, never the token
                return f"{left} ({exc})"
        return None
