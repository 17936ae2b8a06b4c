"""What the throughput benchmarks share: the fast test endpoint (``bench/fast_endpoint.py``) started in a process
of its own, and the load spec mlchaos would send it — built from ``bench/fast_target.yaml`` through the same
target loader and response mapping as ``mlchaos run --target``.
"""

from __future__ import annotations

import contextlib
import json
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
from benchlib import DATASET

from mlchaos.experiments.load.spec import LoadSpec, Locustfile, RequestTemplate
from mlchaos.experiments.loader import load_target
from mlchaos.experiments.targets import ExternalTarget

HERE = Path(__file__).parent
SERVER = HERE / "fast_endpoint.py"
TARGET = HERE / "fast_target.yaml"
START_TIMEOUT_S = 15.0
PLACEHOLDER = "${service_url}"


@contextlib.contextmanager
def fast_endpoint() -> Iterator[tuple[str, int]]:
    """The endpoint's base URL and process id while it runs; stopped (SIGTERM, then SIGKILL) on the way out."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = _first_line(proc)
        if not line.startswith("listening on "):
            raise SystemExit(
                f"the fast endpoint did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
            )
        yield line.removeprefix("listening on ").strip(), proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _first_line(proc: subprocess.Popen[str]) -> str:
    """The server's first stdout line, or "" if it says nothing within START_TIMEOUT_S (then it is killed)."""
    assert proc.stdout is not None
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(START_TIMEOUT_S):
            proc.kill()
            return ""
    return proc.stdout.readline()


def fast_target(base_url: str) -> ExternalTarget:
    """``bench/fast_target.yaml`` with the running endpoint's URL, validated as ``--target`` validates it."""
    text = TARGET.read_text(encoding="utf-8")
    if PLACEHOLDER not in text:
        raise SystemExit(f"{TARGET} lost its {PLACEHOLDER} placeholder")
    text = text.replace(PLACEHOLDER, base_url)  # not string.Template: the schema modeline has a `$schema`
    with tempfile.TemporaryDirectory(prefix="mlchaos-bench-") as tmp:
        path = Path(tmp) / TARGET.name
        path.write_text(text, encoding="utf-8")
        target, problems = load_target(path)
    if not isinstance(target, ExternalTarget):
        raise SystemExit("bench/fast_target.yaml is invalid:\n" + "\n".join(str(p) for p in problems))
    return target


def load_spec(
    base_url: str, *, users: int, duration_s: float, workers: int = 0, locustfile: Locustfile | None = None
) -> LoadSpec:
    """The load ``mlchaos run`` would send the fast endpoint: its path and response mapping from the target
    file, the dataset's first body, ``users`` users sending back to back (no wait) — or a ``locustfile``'s
    users instead of mlchaos' own."""
    target = fast_target(base_url)
    body = json.loads(DATASET.read_text(encoding="utf-8").splitlines()[0])["body"]
    response = target.response
    return LoadSpec(
        base_url=target.service_url,
        path=target.predict_path,
        users=users,
        spawn_rate=users,
        duration_s=duration_s,
        tier_field=response.tier,
        confidence_field=response.confidence,
        prediction_field=response.prediction,
        score_field=response.score,
        review_field=response.review,
        shed_field=response.shed,
        requests=() if locustfile else (RequestTemplate(body=body),),
        locustfile=locustfile,
        workers=workers,
    )


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def process_cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class Finished:
    """When each recorded request finished, from LoadRunner's per-batch callback (the batches the parent decoded,
    as the engine's live tallies get them); and how many read no tier — the mapping must have read every answer,
    or the benchmark did not measure the full recording."""

    def __init__(self) -> None:
        self.ends: list[np.ndarray] = []
        self.unread = self.errors = 0

    def add(self, batch: pa.RecordBatch) -> None:
        start = batch.column("start").to_numpy()
        self.ends.append(start + batch.column("latency_ms").to_numpy() / 1000)
        self.errors += batch.num_rows - (pc.sum(pc.equal(batch.column("status"), 200)).as_py() or 0)
        self.unread += batch.column("tier").null_count

    def within(self, start: float, end: float) -> int:
        return sum(int(((start <= ends) & (ends < end)).sum()) for ends in self.ends)
