"""What recording costs per request, piece by piece, without a network: the CPU the load child spends on each
answer (the request listener: read the answer through the target's mapping, build the row) and on each row's
share of a batch line, and what the orchestrator spends decoding it.

    .venv/bin/python bench/row_cost.py            # writes its table into bench/README.md
    .venv/bin/python bench/row_cost.py --no-readme --reps 3

It drives the code itself with the fast endpoint's answer (``bench/fast_endpoint.py``, read with the mapping of
``bench/fast_target.yaml``: four fields, three of them nested), so its figures do not depend on how busy the
machine is with other work as much as a load's do; the best of the repetitions is the least disturbed. Run it at
two commits for a before/after (bench/README.md has one).
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: it monkey-patches for gevent, as in the load child

# isort: on
import argparse
import os
import time
from collections.abc import Callable

from benchlib import stamp, write_section
from fast_endpoint import response_bytes
from fast_load import load_spec

from mlchaos.experiments.load import wire
from mlchaos.experiments.load.answers import AnswerReader
from mlchaos.experiments.load.users import Recorder

BATCH_ROWS = 1000
"""Rows per batch line: about one flush interval (0.2 s) of one busy child."""


class _Answer:
    status_code = 200
    content = response_bytes().split(b"\r\n\r\n", 1)[1]
    headers = {"content-type": "application/json"}  # noqa: RUF012 - read only


def best_us(fn: Callable[[], object], calls: int, per_call: int, reps: int) -> float:
    """The fastest of ``reps`` timings of ``calls`` calls, in µs per unit (``per_call`` units per call)."""
    best = float("inf")
    for _ in range(reps):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - started) / calls / per_call)
    return best * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=7, help="repetitions; the best is kept (default 7)")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    spec = load_spec("http://127.0.0.1:9", users=1, duration_s=1)
    answer, context = _Answer(), {"mlchaos_label": None, "mlchaos_input": None}
    reader = AnswerReader(spec)
    recorder = Recorder(spec, ship=lambda rows: None)

    def listen() -> None:
        recorder.on_request(1.0, answer, context, None, 1.0)
        if len(recorder._rows) >= BATCH_ROWS:  # as a flush would: the list does not grow for ever
            recorder._rows = []

    batch: list[wire.Row] = []
    filler = Recorder(spec, ship=batch.extend)
    for _ in range(BATCH_ROWS):
        filler.on_request(1.0, answer, context, None, time.time())
    filler.flush()
    rows = [list(row) for row in batch]
    line = wire.encode_batch(time.time(), 8, rows)
    costs = {
        "read the answer (mapping applied)": best_us(
            lambda: reader.read(200, answer, None), 20_000, 1, args.reps
        ),
        "request listener (read + row)": best_us(listen, 20_000, 1, args.reps),
        "encode its row into a batch line": best_us(
            lambda: wire.encode_batch(time.time(), 8, rows), 50, BATCH_ROWS, args.reps
        ),
        "orchestrator: decode the row": best_us(lambda: wire.decode(line), 50, BATCH_ROWS, args.reps),
    }
    child = costs["request listener (read + row)"] + costs["encode its row into a batch line"]
    lines = ["| per request | µs |", "|:---|---:|"]
    lines += [f"| {name} | {us:.2f} |" for name, us in costs.items()]
    lines += [
        f"| **load child in all** (listener + encode) | **{child:.2f}** |",
        "",
        f"Best of {args.reps} repetitions, each thousands of calls with the fast endpoint's answer.",
    ]
    text = "\n".join(lines) + f"\n\n{stamp(load_before)}"
    print(text)
    if not args.no_readme:
        write_section("row_cost", text)


if __name__ == "__main__":
    main()
