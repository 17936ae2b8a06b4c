"""Before any load or fault: is the target there, healthy, and does it have what the faults name?

A failed preflight is an invalid target (exit 2), not an aborted run: nothing was touched.
"""

from __future__ import annotations

import time

import requests

from mlchaos.experiments.errors import TargetUnusable
from mlchaos.experiments.plan import Plan
from mlchaos.experiments.signal_reading import NotFollowed, SignalReadError, get
from mlchaos.injectors import INJECTORS, InjectorError

READY_TIMEOUT_S = 30.0
UNREACHABLE_TIMEOUT_S = 5.0
CHECK_DEADLINE_S = 2.0
"""Each readiness check's total deadline (:func:`~mlchaos.experiments.signal_reading.get`): a target that dribbles
its answer cannot hold the preflight past it."""
_MAX_BYTES = 64 * 1024
"""A readiness answer is a few bytes; what more there is is only quoted (200 characters) in the error."""


class PreflightFailed(TargetUnusable):
    """The target is not fit for the experiment; the message says what is wrong and what was tried."""


def wait_ready(
    plan: Plan, timeout_s: float = READY_TIMEOUT_S, unreachable_s: float = UNREACHABLE_TIMEOUT_S
) -> None:
    """Wait for the service's readiness check to answer 200.

    A service that answers "not ready" gets ``timeout_s`` (a previous experiment may still be recovering); one that
    does not answer at all gets only ``unreachable_s`` — a wrong URL does not fix itself. A redirect is not
    followed (it could lead to a host the target does not allow): it is an answer that is not 200. Each check
    has a total deadline of :data:`CHECK_DEADLINE_S` and reads at most 64 KiB of the answer.
    """
    url = plan.target.service_url + plan.target.health.ready
    started = time.monotonic()
    last, answered = "no answer yet", False
    with requests.Session() as session:
        session.headers.update(plan.target.headers)
        while (elapsed := time.monotonic() - started) < (
            timeout_s if answered else min(timeout_s, unreachable_s)
        ):
            try:
                response = get(session, url, deadline_s=CHECK_DEADLINE_S, max_bytes=_MAX_BYTES)
            except NotFollowed as exc:
                answered, last = True, str(exc)
            except SignalReadError as exc:
                last = str(exc)
            else:
                if response.status == 200:
                    return
                answered, last = True, f"HTTP {response.status}: {response.text[:200]}"
            time.sleep(0.25)
    raise PreflightFailed(
        f"the target is not ready: {url} did not answer 200 within {elapsed:.0f}s (last: {last})"
    )


def preflight(plan: Plan, *, ready_timeout_s: float = READY_TIMEOUT_S) -> None:
    wait_ready(plan, ready_timeout_s)
    for planned in plan.faults:
        injector = INJECTORS[planned.spec.type]
        try:
            injector.check(planned.plan.undo)
        except InjectorError as exc:
            raise PreflightFailed(f"fault '{planned.spec.id}' cannot run on this target: {exc}") from exc
