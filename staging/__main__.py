"""Run the embedded reference stack in the foreground until Ctrl-C or SIGTERM (``mlchaos staging up``)::

    python -m mlchaos.staging [--seed N] [--flag disable_fallback_model ...] [--restart-delay-s S]
                              [--max-in-flight N] [--shed-mode degrade|reject] [--ood-threshold X]
                              [--review-confidence X] [--drift-window N] [--drift-threshold X] [--json]

It prints the endpoints and a ready-to-use ``kind: external`` target, so scenarios can run against it from
another terminal with ``--target``. ``--json`` prints the endpoints as one JSON line instead (for scripts).
Neither prints redis' password: it stays in WORKDIR/stack.json (0600, in the 0700 workdir).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from types import FrameType

import yaml
from pydantic import ValidationError

from mlchaos.staging.endpoints import StackEndpoints
from mlchaos.staging.options import SHED_MODES, DriftOptions, ReviewOptions, StackFlag, StackOptions
from mlchaos.staging.stack import EmbeddedStack, StackError


def external_target_yaml(endpoints: StackEndpoints) -> str:
    """The stack as an ``external`` target (see ``mlchaos.experiments.targets.ExternalTarget``)."""
    target = endpoints.as_external_target()
    return yaml.safe_dump(target, sort_keys=False)


def _parse(argv: list[str] | None, prog: str) -> tuple[StackOptions, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the embedded reference stack in the foreground until Ctrl-C or SIGTERM; print its "
        "endpoints and an external-target file for `mlchaos run --target`.",
    )
    parser.add_argument(
        "--seed", type=int, default=StackOptions().seed, help="seed of the generated data and models"
    )
    parser.add_argument(
        "--flag",
        action="append",
        default=[],
        choices=[f.value for f in StackFlag],
        help="a deliberate defect (broken variant); repeatable",
    )
    parser.add_argument(
        "--restart-delay-s",
        type=float,
        default=0.0,
        help="seconds the primary model server takes to serve after a (re)start",
    )
    defaults = StackOptions()
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=defaults.max_in_flight,
        help="requests the gateway works on at once; beyond it requests are shed (default %(default)s)",
    )
    parser.add_argument(
        "--shed-mode",
        choices=SHED_MODES,
        default=defaults.shed_mode,
        help="a shed request gets a rules/static answer marked shed (degrade) or 429 (reject); "
        "default %(default)s",
    )
    review, drift = defaults.review, defaults.drift
    parser.add_argument(
        "--ood-threshold",
        type=float,
        default=review.ood_threshold,
        help="ood_score from which a request is kept from the learned models and flagged review "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--review-confidence",
        type=float,
        default=review.review_confidence,
        help="answers less confident than this are flagged review, reason low_confidence (default %(default)s)",
    )
    parser.add_argument(
        "--drift-window",
        type=int,
        default=drift.window,
        help="recent valid requests the drift monitor compares with the training data (default %(default)s)",
    )
    parser.add_argument(
        "--drift-threshold",
        type=float,
        default=drift.threshold,
        help="drift alarm when a feature's KS distance x sqrt(n) exceeds this (default %(default)s)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep files here (default: a temporary dir); created, or made, private to you (mode 0700)",
    )
    parser.add_argument(
        "--timeout-s", type=float, default=60.0, help="how long to wait for the stack to be ready"
    )
    parser.add_argument("--json", action="store_true", help="print the endpoints as one JSON line")
    args = parser.parse_args(argv)
    try:
        options = StackOptions(
            seed=args.seed,
            flags=tuple(StackFlag(f) for f in args.flag),
            restart_delay_s=args.restart_delay_s,
            max_in_flight=args.max_in_flight,
            shed_mode=args.shed_mode,
            review=ReviewOptions(
                ood_threshold=args.ood_threshold,
                ood_max_confidence=review.ood_max_confidence,
                review_confidence=args.review_confidence,
            ),
            drift=DriftOptions(
                window=args.drift_window,
                min_samples=min(drift.min_samples, args.drift_window),
                threshold=args.drift_threshold,
                interval_s=drift.interval_s,
            ),
        )
    except ValidationError as exc:  # e.g. --max-in-flight 0: a usage error, not a traceback
        parser.error("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    return options, args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the stack exactly like Ctrl-C


def main(argv: list[str] | None = None, prog: str = "python -m mlchaos.staging") -> int:
    options, args = _parse(argv, prog)
    # SIGINT explicitly too: shells start background jobs with SIGINT ignored, and `kill -INT` must work.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    stack = EmbeddedStack(options, workdir=args.workdir)
    try:
        endpoints = stack.start(timeout_s=args.timeout_s)
        if args.json:
            public = {k: v for k, v in asdict(endpoints).items() if k != "redis_password"}
            print(json.dumps(public, default=str), flush=True)
        else:
            pid, workdir = endpoints.supervisord_pid, endpoints.workdir
            print(f"embedded stack running (supervisord pid {pid}, files in {workdir})")
            print(f"  gateway     {endpoints.gateway_url}   (POST /predict, /health/*, /metrics)")
            print(f"  primary     {endpoints.primary_url}   (direct, bypassing toxiproxy)")
            print(f"  toxiproxy   {endpoints.toxiproxy_url}   (its API has no authentication)")
            print(f"  supervisord {endpoints.supervisor_url}   (XML-RPC; the socket is yours only)")
            print(f"  redis       {endpoints.redis_url}   (password: redis_password in {workdir}/stack.json)")
            print("\nexternal target for --target (save as target.yaml):\n")
            print(external_target_yaml(endpoints))
            print("Ctrl-C or SIGTERM stops the stack.", flush=True)
        while True:
            signal.pause()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 0
    finally:
        # The teardown itself must not be interrupted: a second Ctrl-C would leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping the embedded stack...", file=sys.stderr, flush=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
