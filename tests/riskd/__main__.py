"""A riskd stack in the foreground, for manual use::

    PYTHONPATH=tests .venv/bin/python -m riskd --flag broken_fallback --max-in-flight 4

prints the endpoints as JSON (one line) once the stack is ready, and stops it on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from pathlib import Path

from riskd.config import DEFECTS
from riskd.stack import RiskdStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m riskd", description="a riskd stack in the foreground")
    parser.add_argument(
        "--flag", action="append", default=[], choices=DEFECTS, help="a defect flag (repeatable)"
    )
    parser.add_argument("--max-in-flight", type=int, default=8)
    parser.add_argument("--workdir", type=Path, help="keep the stack's files here (default: a temporary dir)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for readiness")
    args = parser.parse_args(argv)
    # SIGTERM like Ctrl-C, so that both tear the stack down through the same path.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack = RiskdStack(flags=args.flag, max_in_flight=args.max_in_flight, workdir=args.workdir)
    try:
        endpoints = stack.start(timeout_s=args.timeout)
        shown = {**dataclasses.asdict(endpoints), "workdir": str(endpoints.workdir)}
        print(json.dumps(shown), flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
