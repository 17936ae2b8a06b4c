"""Bare Locust, for comparison with mlchaos's load path: ``python bench/bare_locust.py SPEC_JSON [--bounds]``.

It runs mlchaos's own user class (:func:`mlchaos.experiments.load.users.user_class`: same FastHttpUser, same
bodies, users and endpoint) in one Locust process for ``duration_s``, but without mlchaos's per-request
recording: no request listener, no rows, nothing streamed to a parent. The difference between the two is what
recording costs. With ``--bounds`` the users also get what the load child puts around every request before any
recording (:func:`~mlchaos.experiments.load.users.users_for`: the host guard, the deadline and the answer cap),
which tells the cost of those apart from the recording's. It prints one JSON line about the steady part of the
run (ramp-up and stop left out): ``{"requests": N, "cpu_s": C, "seconds": S, "failures": F}`` (this process's
CPU time over those S seconds).
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: it monkey-patches for gevent, as in the load child

# isort: on
import json
import resource
import sys
import time
from pathlib import Path

import gevent
from benchlib import WINDOW_MARGIN_S
from locust import User
from locust.env import Environment

from mlchaos.experiments.load.bodies import body_source
from mlchaos.experiments.load.mix import InputMixer
from mlchaos.experiments.load.spec import LoadSpec
from mlchaos.experiments.load.users import Gate, user_class, users_for


def main(spec_path: Path, *, bounds: bool = False) -> None:
    spec = LoadSpec.model_validate_json(spec_path.read_bytes())
    gate = Gate()
    source, mixer = body_source(spec), InputMixer(spec)
    classes: list[type[User]] = (
        users_for(spec, source, mixer, gate) if bounds else [user_class(spec, source, mixer, gate)]
    )
    env = Environment(
        user_classes=classes,
        host=spec.base_url.rstrip("/"),
        stop_timeout=spec.stop_grace_s,
    )
    runner = env.create_local_runner()
    started = time.time()
    gate.started, gate.deadline = started, started + spec.duration_s
    runner.start(spec.users, spec.spawn_rate)
    # the window leaves out the ramp-up and the stop, as the mlchaos side does
    gevent.sleep(WINDOW_MARGIN_S)
    cpu_before, requests_before = cpu_seconds(), env.stats.total.num_requests
    gevent.sleep(spec.duration_s - 2 * WINDOW_MARGIN_S)
    cpu_after, requests_after = cpu_seconds(), env.stats.total.num_requests
    gevent.sleep(max(0.0, gate.deadline - time.time()))
    gate.closed = True
    runner.quit()
    window = {
        "requests": requests_after - requests_before,
        "cpu_s": cpu_after - cpu_before,
        "seconds": spec.duration_s - 2 * WINDOW_MARGIN_S,
        "failures": env.stats.total.num_failures,
    }
    print(json.dumps(window))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main(Path(sys.argv[1]), bounds="--bounds" in sys.argv[2:])
