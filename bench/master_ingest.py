"""How many request rows a distributed load's master takes before it becomes the limit, with real local workers.

Each line of its table is one real distributed load — :class:`LoadRunner` with ``workers: N``, so the load child is
a Locust master that starts N worker processes on loopback, exactly as ``load.workers: N`` does in a scenario —
with ``--users-per-worker`` users per worker:

- **HTTP** (``--workers``, default 1 and 4): mlchaos' own users sending to the fast test endpoint
  (``bench/fast_endpoint.py``, declared by ``bench/fast_target.yaml``) back to back;
- **replayed** (``--rates`` on ``--replay-workers``, default 20,000 to 160,000 rows/s on 4): users of
  ``bench/replay_locustfile.py``, run as a team's locustfile, that record the endpoint's answer without sending
  it, paced to the rate offered — so that four workers on a 2-core machine can offer the master more rows than
  they could ever send. From the request listener on, everything is the real path.

Every worker ships its rows to the master (encrypted, over Locust's ZeroMQ connection); the master checks every
batch and writes it to this process, whose reader decodes it into the recording. Over the steady part of each
load (first and last second left out) it measures the rows recorded per second and the CPU of the workers, the
master, this process and the endpoint. The master is the limit when it is busy a whole core, or when it falls
behind (its workers' late rows are refused and the load fails); its *ceiling* — one core divided by its CPU per
row — is what it could take with a core to itself.

    .venv/bin/python bench/master_ingest.py                      # writes its table into bench/README.md
    .venv/bin/python bench/master_ingest.py --workers 4 --rates 20000 --duration 5 --no-readme
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from benchlib import WINDOW_MARGIN_S, stamp, write_section
from fast_load import Finished, cpu_seconds, fast_endpoint, load_spec, process_cpu

from mlchaos.experiments.load.runner import LoadError, LoadRunner
from mlchaos.experiments.load.spec import Locustfile

REPLAY = Path(__file__).with_name("replay_locustfile.py")
MODES = {False: "HTTP", True: "replayed"}
"""By whether the users replay (no HTTP)."""
GOAL_ROWS_PER_S = 20_000
LATE_ROWS = "outside the load"
"""What the master says of a batch that starts after the load's end (mlchaos.experiments.load.checked_rows)."""
BUSY_CORE = 0.9
TOOK_ALL = 0.98
"""A replayed load that recorded this share of the rows offered took them all (the window's edges cut a few)."""
"""A process using more than this share of a core over the window is saturated: it is what limits the load."""


@dataclass
class Ingest:
    mode: str
    workers: int
    users: int
    offered: float | None
    """Rows/s the replaying users were paced to (None: as fast as HTTP goes)."""
    rows_per_s: float = 0.0
    workers_busy: float = 0.0
    master_busy: float = 0.0
    parent_busy: float = 0.0
    endpoint_busy: float = 0.0
    errors: int = 0
    failure: str | None = None
    """Why the load failed (a master that fell behind: its workers' late rows are refused)."""

    @property
    def master_us_per_row(self) -> float:
        return 1e6 * self.master_busy / max(1.0, self.rows_per_s)

    @property
    def parent_us_per_row(self) -> float:
        return 1e6 * self.parent_busy / max(1.0, self.rows_per_s)

    @property
    def master_ceiling(self) -> float:
        """Rows/s the master would take with a whole core to itself."""
        return 1e6 / self.master_us_per_row if self.master_us_per_row else 0.0

    def limit(self) -> str:
        """What held the load back: a saturated master, or the CPU the machine had left for the workers."""
        if self.master_busy >= BUSY_CORE:
            return "the master (a whole core busy)"
        if self.offered is not None and self.rows_per_s >= TOOK_ALL * self.offered:
            return "nothing: every row offered was recorded"
        cores = os.cpu_count() or 1
        used = self.workers_busy + self.master_busy + self.parent_busy + self.endpoint_busy
        if used >= BUSY_CORE * cores:
            return f"the machine's {cores} cores (the workers use {self.workers_busy:.1f})"
        return f"the workers ({self.workers_busy:.1f} cores between {self.workers})"


def measure(
    base_url: str,
    endpoint: psutil.Process,
    workers: int,
    users_per_worker: int,
    duration_s: float,
    *,
    offered: float | None = None,
) -> Ingest:
    """One distributed load: mlchaos' own users over HTTP, or (``offered`` rows/s) the replaying users."""
    users = workers * users_per_worker
    locustfile = None if offered is None else replay_locustfile(offered / users)
    spec = load_spec(base_url, users=users, duration_s=duration_s, workers=workers, locustfile=locustfile)
    result = Ingest(MODES[offered is not None], workers, users, offered)
    finished = Finished()
    runner = LoadRunner(spec, on_batch=finished.add)
    runner.start()
    assert runner.started_at is not None and runner.pid is not None
    master = psutil.Process(runner.pid)
    fleet = master.children(recursive=True)
    if len(fleet) != workers:
        runner.stop()
        raise SystemExit(f"expected {workers} local worker processes under the master, found {len(fleet)}")
    time.sleep(max(0.0, runner.started_at + WINDOW_MARGIN_S - time.time()))
    before = _sample(master, fleet, endpoint)
    time.sleep(max(0.0, runner.started_at + duration_s - WINDOW_MARGIN_S - time.time()))
    after = _sample(master, fleet, endpoint)
    try:
        if runner.wait(timeout_s=duration_s + spec.stop_grace_s + 60) is None:
            runner.stop()
            result.failure = "did not finish in time"
    except LoadError as exc:
        result.failure = _why(exc)
    if finished.unread:
        raise SystemExit(
            f"{finished.unread} answers recorded without a tier: the target's mapping was not read"
        )
    seconds = after[0] - before[0]
    result.rows_per_s = finished.within(before[0], after[0]) / seconds
    result.workers_busy, result.master_busy, result.parent_busy, result.endpoint_busy = (
        (a - b) / seconds for a, b in zip(after[1:], before[1:], strict=True)
    )
    result.errors = finished.errors
    return result


def _why(exc: LoadError) -> str:
    """The load's failure in a table cell: the master's first complaint (its stderr), else the error's first line."""
    complaints = [line for line in exc.stderr_tail.splitlines() if line.startswith("ERROR")]
    if any(LATE_ROWS in line for line in complaints):
        return "the master fell behind: its workers' rows arrived after the load's end, and were refused"
    return (complaints[0] if complaints else str(exc).splitlines()[0])[:160]


def replay_locustfile(rows_per_s_per_user: float) -> Locustfile:
    """bench/replay_locustfile.py, its users paced to ``rows_per_s_per_user``."""
    source = REPLAY.read_text(encoding="utf-8")
    pace = "ROWS_PER_S_PER_USER = 100.0"
    if pace not in source:
        raise SystemExit(f"{REPLAY} lost its line {pace!r}")
    source = source.replace(pace, f"ROWS_PER_S_PER_USER = {rows_per_s_per_user!r}")
    return Locustfile(path=str(REPLAY), source=source, user_classes=("ReplayUser",))


def _sample(
    master: psutil.Process, fleet: list[psutil.Process], endpoint: psutil.Process
) -> tuple[float, float, float, float, float]:
    """(time, workers' CPU, master's CPU, this process's CPU, the endpoint's CPU) in seconds."""
    return (
        time.time(),
        sum(process_cpu(worker) for worker in fleet),
        process_cpu(master),
        cpu_seconds(resource.RUSAGE_SELF),
        process_cpu(endpoint),
    )


def table(results: list[Ingest], duration_s: float) -> str:
    lines = [
        "| requests | workers | users | rows/s offered | rows/s recorded | workers CPU (cores) | master CPU (cores) "
        "| master µs per row | master ceiling (rows/s, one core) | orchestrator µs per row | limited by |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for r in results:
        offered = "as fast as it goes" if r.offered is None else f"{r.offered:,.0f}"
        limit = f"**load failed**: {r.failure}" if r.failure else r.limit()
        lines.append(
            f"| {r.mode} | {r.workers} | {r.users} | {offered} | {r.rows_per_s:,.0f} | {r.workers_busy:.2f} | "
            f"{r.master_busy:.2f} | {r.master_us_per_row:.1f} | {r.master_ceiling:,.0f} | "
            f"{r.parent_us_per_row:.1f} | {limit} |"
        )
    kept = [r for r in results if r.failure is None]
    best = max(kept, key=lambda r: r.rows_per_s) if kept else None
    if best is not None and best.rows_per_s >= GOAL_ROWS_PER_S:
        verdict = f"met: {best.rows_per_s:,.0f} rows/s recorded ({best.mode}, {best.workers} workers)"
    elif best is not None:
        verdict = f"**not met**: at most {best.rows_per_s:,.0f} rows/s recorded, limited by {best.limit()}"
    else:
        verdict = "**not met**: every load failed"
    lines += [
        "",
        f"One {duration_s:g} s load per line, its steady part measured. *HTTP*: mlchaos' own users sending to "
        "the fast endpoint as fast as they can; *replayed*: users that record the endpoint's answer without "
        f"sending it, paced to the rate offered. Goal ≥ {GOAL_ROWS_PER_S:,} rows/s: {verdict}. Non-2xx "
        f"answers: {sum(r.errors for r in results)}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 4],
        help="worker counts of the HTTP loads, one load each (default 1 4)",
    )
    parser.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[20_000, 40_000, 80_000, 160_000],
        help="rows/s offered by replaying users on --replay-workers workers, one load each "
        "(default 20000 40000 80000 160000)",
    )
    parser.add_argument(
        "--replay-workers", type=int, default=4, help="workers of the replayed loads (default 4)"
    )
    parser.add_argument("--users-per-worker", type=int, default=8, help="users per worker (default 8)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load (default 10)")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    results = []
    with fast_endpoint() as (base_url, pid):
        endpoint = psutil.Process(pid)
        loads = [(workers, None) for workers in args.workers]
        loads += [(args.replay_workers, rate) for rate in args.rates]
        for workers, offered in loads:
            result = measure(
                base_url, endpoint, workers, args.users_per_worker, args.duration, offered=offered
            )
            results.append(result)
            print(
                f"{result.mode}, {workers} workers: {result.rows_per_s:,.0f} rows/s, master "
                f"{result.master_busy:.2f} cores{'; failed: ' + result.failure if result.failure else ''}",
                flush=True,
            )
    text = f"{table(results, args.duration)}\n\n{stamp(load_before)}"
    print(text)
    if not args.no_readme:
        write_section("master_ingest", text)


if __name__ == "__main__":
    main()
